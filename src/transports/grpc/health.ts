// gRPC listener → grpc.health.v1.Health (Check, Watch, List) for kubelet gRPC probes and Envoy health checks.
//
// "readiness" follows the replica's readiness (policy loaded, store reachable where it must be, not
// draining). "" (the server overall, what a kubelet liveness probe asks by default) and the served API
// names stay SERVING until shutdown starts, so no probe restarts or ejects a replica for a dependency
// outage that FAILURE_MODE handles.

import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as Status,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListRequest,
  type HealthListResponse,
} from '../../generated/grpc/health/v1/health.js';
import type { HealthState } from '../../health/readiness.js';
import type { StreamSink, UnaryCall } from './grpc-call.js';

export const READINESS_SERVICES = ['readiness'] as const;
export const API_SERVICES = [
  '',
  'envoy.service.auth.v3.Authorization',
  'envoy.service.ratelimit.v3.RateLimitService',
] as const;
const REGISTERED = new Set<string>([...READINESS_SERVICES, ...API_SERVICES]);

/** grpc.health.v1.Health's methods, called by both gRPC servers (grpc-server.ts, lean/lean-grpc-server.ts). */
export interface HealthCalls {
  check: UnaryCall<HealthCheckRequest, HealthCheckResponse>;
  list: UnaryCall<HealthListRequest, HealthListResponse>;
  /** Sends the current status at once and on every change; returns the unsubscribe (call it when the client goes). */
  watch(request: HealthCheckRequest, sink: StreamSink<HealthCheckResponse>): () => void;
}

export interface GrpcHealth {
  service: HealthCalls;
  /** Ends every open Watch (shutdown: a server waits for open streams before it stops). */
  endWatches(): void;
}

export function createHealthService(state: HealthState): GrpcHealth {
  const watches = new Set<StreamSink<HealthCheckResponse>>();
  let ended = false;
  const statusOf = (service: string): Status | undefined => {
    if (!REGISTERED.has(service)) return undefined;
    const serving = (READINESS_SERVICES as readonly string[]).includes(service)
      ? state.ready
      : !state.draining;
    return serving ? Status.SERVING : Status.NOT_SERVING;
  };
  const service: HealthCalls = {
    async check(request) {
      const status = statusOf(request.service);
      if (status === undefined) throw { code: GrpcStatus.NOT_FOUND, details: 'unknown service' };
      return { status };
    },
    async list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const name of REGISTERED) statuses[name] = { status: statusOf(name)! };
      return { statuses };
    },
    watch(request, sink) {
      // Unknown names get SERVICE_UNKNOWN and the stream stays open (the service may appear later).
      const current = () => statusOf(request.service) ?? Status.SERVICE_UNKNOWN;
      let sent = current();
      sink.write({ status: sent });
      if (ended) {
        sink.end();
        return () => {};
      }
      const unsubscribe = state.subscribe(() => {
        const status = current();
        if (status === sent) return;
        sent = status;
        sink.write({ status });
      });
      watches.add(sink);
      return () => {
        unsubscribe();
        watches.delete(sink);
      };
    },
  };
  return {
    service,
    endWatches() {
      ended = true;
      for (const sink of watches) sink.end();
      watches.clear();
    },
  };
}
