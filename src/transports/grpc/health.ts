// gRPC listener → grpc.health.v1.Health (Check, Watch, List) for kubelet gRPC probes and Envoy health checks.
//
// "readiness" follows the replica's readiness (policy loaded, store reachable where it must be, not
// draining). "" (the server overall, what a kubelet liveness probe asks by default) and the served API
// names stay SERVING until shutdown starts, so no probe restarts or ejects a replica for a dependency
// outage that FAILURE_MODE handles.

import { status as GrpcStatus, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as Status,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '../../generated/grpc/health/v1/health.js';
import type { HealthState } from '../../health/readiness.js';

export const READINESS_SERVICES = ['readiness'] as const;
export const API_SERVICES = [
  '',
  'envoy.service.auth.v3.Authorization',
  'envoy.service.ratelimit.v3.RateLimitService',
] as const;
const REGISTERED = new Set<string>([...READINESS_SERVICES, ...API_SERVICES]);

export interface GrpcHealth {
  service: HealthServer;
  /** Ends every open Watch (shutdown: grpc-js waits for open streams before it stops). */
  endWatches(): void;
}

export function createHealthService(state: HealthState): GrpcHealth {
  const watches = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  let ended = false;
  const statusOf = (service: string): Status | undefined => {
    if (!REGISTERED.has(service)) return undefined;
    const serving = (READINESS_SERVICES as readonly string[]).includes(service)
      ? state.ready
      : !state.draining;
    return serving ? Status.SERVING : Status.NOT_SERVING;
  };
  const service: HealthServer = {
    check(call, callback) {
      const status = statusOf(call.request.service);
      if (status === undefined) return callback({ code: GrpcStatus.NOT_FOUND, details: 'unknown service' });
      callback(null, { status });
    },
    list(_call, callback) {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const name of REGISTERED) statuses[name] = { status: statusOf(name)! };
      callback(null, { statuses });
    },
    watch(call) {
      // Unknown names get SERVICE_UNKNOWN and the stream stays open (the service may appear later).
      const current = () => statusOf(call.request.service) ?? Status.SERVICE_UNKNOWN;
      let sent = current();
      call.write({ status: sent });
      if (ended) return void call.end();
      const unsubscribe = state.subscribe(() => {
        const status = current();
        if (status === sent) return;
        sent = status;
        call.write({ status });
      });
      watches.add(call);
      const done = () => {
        unsubscribe();
        watches.delete(call);
      };
      call.on('cancelled', done);
      call.on('close', done);
    },
  };
  return {
    service,
    endWatches() {
      ended = true;
      for (const call of watches) call.end();
      watches.clear();
    },
  };
}
