// Lean gRPC server, routing: each served method's path → its decoder, the server-neutral call that both
// gRPC servers share (ext-authz.ts, rls.ts, health.ts), and its encoder.

import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthListRequest,
  HealthListResponse,
} from '../../../generated/grpc/health/v1/health.js';
import type { RateLimitRequest } from '../../../generated/envoy/service/ratelimit/v3/rls.js';
import {
  ProcessingRequest,
  ProcessingResponse,
} from '../../../generated/envoy/service/ext_proc/v3/external_processor.js';
import type { CheckFields } from '../access-request-from-check.js';
import { encodeCheckAnswer } from '../encode-check-answer.js';
import { encodeRlsAnswer } from '../encode-rls-answer.js';
import { createRateLimitService } from '../rls.js';
import { createExtAuthz } from '../ext-authz.js';
import type { StreamSink } from '../grpc-call.js';
import type { GrpcServerDeps } from '../grpc-server.js';
import { decodeCheckRequest } from './decode-check-request.js';
import { decodeRateLimitRequest } from './decode-rate-limit-request.js';
import { framed, PREFIX_BYTES, writePrefix } from './grpc-wire.js';

/** One method as the lean server runs it: a decoder and a unary call, a server stream or a bidi stream. */
export interface LeanMethod {
  decode(buf: Buffer, start: number, end: number): unknown;
  /** Resolves with the framed response (grpc-wire.ts writePrefix / framed). */
  unary?(request: unknown): Promise<Buffer>;
  /** Writes framed messages to the sink; returns what stops it when the client goes. */
  stream?(request: unknown, sink: StreamSink<Buffer>): () => void;
  /** Bidirectional: opened with the call's sink before any message; handles each as it arrives. */
  bidi?(sink: LeanBidiSink): LeanBidiHandler;
}

export interface LeanBidiSink {
  /** One framed message; false: the client's messages wait until it drains. */
  write(frame: Buffer): boolean;
  /** Ends the call with status OK. */
  end(): void;
}

export interface LeanBidiHandler {
  message(request: unknown): void;
  /** The client closed its side. */
  end(): void;
  /** The call is gone. */
  close(): void;
}

export function leanMethods({
  checkAccess,
  shouldRateLimit,
  logger,
  health,
  extProc,
}: GrpcServerDeps): Map<string, LeanMethod> {
  // The answer's bytes are written straight from the decision, the gRPC prefix's room left before them.
  const check = createExtAuthz({ checkAccess, logger }, (decision, request) =>
    encodeCheckAnswer(decision, request, PREFIX_BYTES),
  );
  const methods = new Map<string, LeanMethod>([
    [
      '/envoy.service.auth.v3.Authorization/Check',
      {
        decode: decodeCheckRequest,
        unary: async (request) => writePrefix(await check(request as CheckFields)),
      },
    ],
  ]);
  if (shouldRateLimit) {
    const rateLimit = createRateLimitService({ shouldRateLimit, logger }, (result) =>
      encodeRlsAnswer(result, PREFIX_BYTES),
    );
    methods.set('/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit', {
      decode: decodeRateLimitRequest,
      unary: async (request) => writePrefix(await rateLimit(request as RateLimitRequest)),
    });
  }
  if (extProc)
    methods.set('/envoy.service.ext_proc.v3.ExternalProcessor/Process', {
      decode: (buf, start, end) => ProcessingRequest.decode(buf.subarray(start, end)),
      bidi: (sink) => {
        const stream = extProc({
          write: (response) => sink.write(framed(ProcessingResponse.encode(response).finish())),
          end: () => sink.end(),
        });
        return {
          message: (request) => stream.message(request as ProcessingRequest),
          end: () => stream.end(),
          close: () => stream.close(),
        };
      },
    });
  if (!health) return methods;
  const decodeHealth = (buf: Buffer, start: number, end: number) =>
    HealthCheckRequest.decode(buf.subarray(start, end));
  methods.set('/grpc.health.v1.Health/Check', {
    decode: decodeHealth,
    unary: async (request) =>
      framed(HealthCheckResponse.encode(await health.check(request as HealthCheckRequest)).finish()),
  });
  methods.set('/grpc.health.v1.Health/List', {
    decode: (buf, start, end) => HealthListRequest.decode(buf.subarray(start, end)),
    unary: async (request) =>
      framed(HealthListResponse.encode(await health.list(request as HealthListRequest)).finish()),
  });
  methods.set('/grpc.health.v1.Health/Watch', {
    decode: decodeHealth,
    stream: (request, sink) =>
      health.watch(request as HealthCheckRequest, {
        write: (message) => sink.write(framed(HealthCheckResponse.encode(message).finish())),
        end: () => sink.end(),
      }),
  });
  return methods;
}
