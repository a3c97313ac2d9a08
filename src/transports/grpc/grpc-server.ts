// The gRPC listener: Envoy ext_authz, the Envoy rate-limit service and grpc.health.v1, bound on a host:port.

import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import type { CheckAccess } from '../../access/check-access.js';
import { AuthorizationService } from '../../generated/envoy/service/auth/v3/external_auth.js';
import {
  ExternalProcessorService,
  type ProcessingRequest,
  type ProcessingResponse,
} from '../../generated/envoy/service/ext_proc/v3/external_processor.js';
import { HealthService, type HealthCheckRequest } from '../../generated/grpc/health/v1/health.js';
import { RateLimitServiceService } from '../../generated/envoy/service/ratelimit/v3/rls.js';
import type { Logger } from '../../logger.js';
import { encodeCheckResponse } from './encode-check-response.js';
import { createExtAuthz } from './ext-authz.js';
import type { OpenExtProc } from './ext-proc.js';
import { asGrpcError, type UnaryCall } from './grpc-call.js';
import type { HealthCalls } from './health.js';
import { createRateLimitService } from './rls.js';
import type { ShouldRateLimit } from '../../rls/should-rate-limit.js';
import { isMalformed, MALFORMED_REFUSAL, refuseMalformed } from './refuse-malformed.js';

/** What both gRPC servers serve (this grpc-js one and lean/lean-grpc-server.ts). */
export interface GrpcServerDeps {
  checkAccess: CheckAccess;
  /** The use case behind `ShouldRateLimit`, Envoy's global rate-limit filter (transports/grpc/rls.ts). */
  shouldRateLimit?: ShouldRateLimit;
  logger?: Logger;
  /** grpc.health.v1.Health (transports/grpc/health.ts); absent: not served. */
  health?: HealthCalls;
  /** Envoy ext_proc `Process` for metered routes (transports/grpc/ext-proc.ts); absent: not served. */
  extProc?: OpenExtProc;
}

/** A CheckRequest is headers plus metadata; bodies are only sent when with_request_body is set. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Sidecar next to one Envoy: long-lived HTTP/2 connections, dead peers found within ~40 s. */
const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Server pings every 30 s and drops the connection if the ack takes over 10 s.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // (grpc-js servers never answer client pings with GOAWAY too_many_pings, so Envoy's own
  // HTTP/2 keepalive needs no server-side allowance.)
  'grpc.max_concurrent_streams': 1_000,
};

/** ext_authz with the single-buffer CheckResponse encoder (same bytes as the generated one, less garbage). */
const AUTHORIZATION_SERVICE = {
  check: { ...AuthorizationService.check, responseSerialize: encodeCheckResponse },
};

export function createGrpcServer({
  checkAccess,
  shouldRateLimit,
  logger,
  health,
  extProc,
}: GrpcServerDeps): Server {
  const server = new Server(SERVER_OPTIONS);
  server.addService(
    ...refuseMalformed(AUTHORIZATION_SERVICE, { check: unary(createExtAuthz({ checkAccess, logger })) }),
  );
  if (shouldRateLimit) {
    const rateLimit = createRateLimitService({ shouldRateLimit, logger });
    server.addService(...refuseMalformed(RateLimitServiceService, { shouldRateLimit: unary(rateLimit) }));
  }
  if (health)
    server.addService(
      ...refuseMalformed(HealthService, {
        check: unary(health.check),
        list: unary(health.list),
        watch: watch(health),
      }),
    );
  if (extProc) server.addService(...refuseMalformed(ExternalProcessorService, { process: bidi(extProc) }));
  return server;
}

/** grpc-js framing around a server-neutral unary call: the callback runs exactly once. */
function unary<Request, Response>(handle: UnaryCall<Request, Response>) {
  return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) =>
    void handle(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => callback(asGrpcError(err)),
    );
}

function watch(health: HealthCalls) {
  return (call: ServerWritableStream<HealthCheckRequest, unknown>) => {
    const stop = health.watch(call.request, { write: (m) => call.write(m), end: () => call.end() });
    call.on('cancelled', stop);
    call.on('close', stop);
  };
}

/** ext_proc on a grpc-js duplex call: each message in order; a full write buffer pauses reading. */
function bidi(open: OpenExtProc) {
  return (call: ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    let gone = false;
    const stream = open({
      write: (response) => {
        if (gone) return false;
        const flowing = call.write(response);
        if (!flowing) {
          call.pause();
          call.once('drain', () => call.resume());
        }
        return flowing;
      },
      end: () => {
        if (gone) return;
        gone = true;
        call.end();
      },
    });
    call.on('data', (request: unknown) => {
      if (!isMalformed(request)) return stream.message(request as ProcessingRequest);
      gone = true;
      call.emit('error', MALFORMED_REFUSAL);
      stream.close();
    });
    call.on('end', () => stream.end());
    const close = () => {
      gone = true;
      stream.close();
    };
    call.on('cancelled', close);
    call.on('close', close);
  };
}

/** Stops accepting, lets in-flight calls finish; calls still open after `forceAfterMs` are cancelled. */
export function closeGrpcServer(server: Server, forceAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, forceAfterMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** Binds plaintext (the sidecar talks to Envoy in the pod) and resolves with the bound port; port 0 picks one. */
export function listenGrpc(server: Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    // grpc-js >= 1.10 starts serving on bind; Server.start() is deprecated.
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
}
