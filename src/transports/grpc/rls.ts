// gRPC RLS: envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit — wire request → ShouldRateLimit
// → wire answer. The one place where failures map to gRPC statuses for this service.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { InputError } from '../../errors.js';
import type { HeaderValue } from '../../generated/envoy/config/core/v3/base.js';
import type { RateLimitDescriptor } from '../../generated/envoy/extensions/common/ratelimit/v3/ratelimit.js';
import {
  RateLimitResponse_Code as Code,
  RateLimitResponse_RateLimit_Unit as WireUnit,
  type RateLimitRequest,
  type RateLimitResponse,
  type RateLimitResponse_DescriptorStatus,
} from '../../generated/envoy/service/ratelimit/v3/rls.js';
import { RateLimitUnit } from '../../generated/envoy/type/v3/ratelimit_unit.js';
import type { Logger } from '../../logger.js';
import { RESERVATION_HEADER } from '../../metering/reservation-settler.js';
import type { RateUnit } from '../../rls/rate-units.js';
import type {
  RlsDescriptor,
  RlsRequest,
  RlsResult,
  RlsStatus,
  ShouldRateLimit,
} from '../../rls/should-rate-limit.js';
import { PROBLEM_CONTENT_TYPE, problemJson, pushRateLimitHeaders } from '../headers.js';
import type { GrpcError, UnaryCall } from './grpc-call.js';
import { ThrottledLog } from '../../observability/throttled-log.js';
import { grpcFailureStatus } from './grpc-failure-status.js';

export interface RateLimitServiceDeps {
  /** The use case, as composed in app.ts (observed there). */
  shouldRateLimit: ShouldRateLimit;
  logger?: Logger;
}

const REQUEST_UNITS: Partial<Record<RateLimitUnit, RateUnit>> = {
  [RateLimitUnit.SECOND]: 'second',
  [RateLimitUnit.MINUTE]: 'minute',
  [RateLimitUnit.HOUR]: 'hour',
  [RateLimitUnit.DAY]: 'day',
  [RateLimitUnit.MONTH]: 'month',
  [RateLimitUnit.YEAR]: 'year',
};
export const RESPONSE_UNITS: Record<RateUnit, WireUnit> = {
  second: WireUnit.SECOND,
  minute: WireUnit.MINUTE,
  hour: WireUnit.HOUR,
  day: WireUnit.DAY,
  week: WireUnit.WEEK,
  month: WireUnit.MONTH,
  year: WireUnit.YEAR,
};
export const MAX_UINT32 = 4_294_967_295;
const NO_BYTES = Buffer.alloc(0);

export type RateLimitCall<Answer = RateLimitResponse> = UnaryCall<RateLimitRequest, Answer>;

/**
 * How a server answers a result: grpc-js serializes the RateLimitResponse message (responseFromResult,
 * the default); the lean server writes its bytes at once (encode-rls-answer.ts).
 */
export type RlsAnswer<Answer> = (result: RlsResult) => Answer;

/** ShouldRateLimit, called by both gRPC servers (grpc-server.ts, lean/lean-grpc-server.ts); rejects with a GrpcError. */
export function createRateLimitService<Answer>(
  deps: RateLimitServiceDeps,
  answer: RlsAnswer<Answer>,
): RateLimitCall<Answer>;
export function createRateLimitService(deps: RateLimitServiceDeps): RateLimitCall;
export function createRateLimitService(
  { shouldRateLimit, logger }: RateLimitServiceDeps,
  answer: RlsAnswer<unknown> = responseFromResult,
): RateLimitCall<unknown> {
  return async (request) => {
    try {
      return answer(await shouldRateLimit(rlsRequestFromWire(request)));
    } catch (err) {
      throw grpcError(err, request.domain, logger);
    }
  };
}

/** More hits than this in one call is a broken proxy config, not traffic (the counters stay below 2^53). */
export const MAX_HITS = 1_000_000_000;

export function rlsRequestFromWire(request: RateLimitRequest): RlsRequest {
  return {
    domain: request.domain,
    hitsAddend: boundedHits(request.hitsAddend, 'hits_addend'),
    descriptors: request.descriptors.map(descriptorFromWire),
  };
}

function descriptorFromWire(wire: RateLimitDescriptor, i: number): RlsDescriptor {
  const descriptor: RlsDescriptor = { entries: wire.entries.map(({ key, value }) => ({ key, value })) };
  if (wire.hitsAddend !== undefined)
    descriptor.hits = boundedHits(wire.hitsAddend, `descriptors[${i}].hits_addend`);
  if (wire.limit) {
    const unit = REQUEST_UNITS[wire.limit.unit];
    if (!unit)
      throw new InputError([
        {
          path: `descriptors[${i}].limit.unit`,
          message: 'expected SECOND, MINUTE, HOUR, DAY, MONTH or YEAR',
        },
      ]);
    descriptor.override = { requestsPerUnit: wire.limit.requestsPerUnit, unit };
  }
  return descriptor;
}

function boundedHits(hits: number, path: string): number {
  if (hits > MAX_HITS) throw new InputError([{ path, message: `at most ${MAX_HITS}` }]);
  return hits;
}

/** The response headers (flat: `[name, value, …]`) and raw body of a result (see responseFromResult). */
export interface RlsExtras {
  headers: string[];
  rawBody: Buffer;
}

/**
 * Headers as the domain's `response_headers` says: none; envoyproxy/ratelimit's three `erl` headers;
 * or the IETF RateLimit headers, which Envoy adds to the 429 and to the upstream's response alike, so
 * the 429-only content-type, retry-after and problem+json body come only with `ietf` and only when over.
 */
export function rlsExtras(result: RlsResult): RlsExtras {
  if (result.headers === 'erl' && result.erl) {
    const { names, limit, remaining, resetSec } = result.erl;
    return {
      headers: [
        names.limit,
        String(limit),
        names.remaining,
        String(Math.min(MAX_UINT32, remaining)),
        names.reset,
        String(resetSec),
      ],
      rawBody: NO_BYTES,
    };
  }
  if (result.headers !== 'ietf') return { headers: [], rawBody: NO_BYTES };
  const headers: string[] = [];
  pushRateLimitHeaders(headers, result.policies);
  if (!result.over) return { headers, rawBody: NO_BYTES };
  const retryAfterSec = Math.max(
    1,
    ...result.statuses.filter((s) => s.over).map((s) => Math.ceil(s.retryAfterMs / 1000)),
  );
  headers.push('retry-after', String(retryAfterSec), 'content-type', PROBLEM_CONTENT_TYPE);
  const rawBody = Buffer.from(
    problemJson({
      code: 'rate_limit_exceeded',
      status: 429,
      detail: `over the rate limit: ${result.violated.join(', ')}`,
      violated: result.violated,
      retryAfterSec,
    }),
  );
  return { headers, rawBody };
}

/** overall_code is always set (Envoy reads UNKNOWN as OK, but say it); headers and body: rlsExtras. */
export function responseFromResult(result: RlsResult): RateLimitResponse {
  const { headers, rawBody } = rlsExtras(result);
  const reservation = result.over ? undefined : reservationOf(result.statuses);
  return {
    overallCode: result.over ? Code.OVER_LIMIT : Code.OK,
    statuses: result.statuses.map(statusToWire),
    responseHeadersToAdd: headerValues(headers),
    requestHeadersToAdd: reservation
      ? [{ key: RESERVATION_HEADER, value: reservation, rawValue: NO_BYTES }]
      : [],
    rawBody,
  };
}

function statusToWire(status: RlsStatus): RateLimitResponse_DescriptorStatus {
  // A quota descriptor is reported OVER_LIMIT even when the others let the request through (service.go).
  const wire: RateLimitResponse_DescriptorStatus = {
    code: status.over ? Code.OVER_LIMIT : Code.OK,
    limitRemaining: Math.min(MAX_UINT32, status.remaining),
  };
  if (status.limit) {
    const { name, limit, unit } = status.limit;
    wire.currentLimit = {
      name,
      requestsPerUnit: Math.min(MAX_UINT32, limit),
      unit: unit ? RESPONSE_UNITS[unit] : WireUnit.UNKNOWN,
    };
  }
  if (status.resetMs !== undefined) {
    const ms = Math.max(0, status.resetMs);
    wire.durationUntilReset = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  }
  return wire;
}

/**
 * A metered plan decision's reservation, for Envoy to add to the upstream request as ext_authz does:
 * the app (or ext_proc) settles it. Only on an allowed call: a denied one never reaches the app.
 */
export function reservationOf(statuses: readonly RlsStatus[]): string | undefined {
  for (const status of statuses) if (status.reservation) return status.reservation;
  return undefined;
}

/** `headers` flat: `[name, value, …]`. */
function headerValues(headers: readonly string[]): HeaderValue[] {
  const values: HeaderValue[] = [];
  for (let i = 0; i < headers.length; i += 2)
    values.push({ key: headers[i]!, value: headers[i + 1]!, rawValue: NO_BYTES });
  return values;
}

/** Store failures and shed calls: counted in metrics per call, logged at most once a second with a count. */
const storeFailures = new ThrottledLog('rls: store unavailable or replica overloaded');

/** A failed RPC (not an OVER_LIMIT), so Envoy's failure_mode_deny decides. Messages never carry descriptor values. */
function grpcError(err: unknown, domain: string, logger: Logger | undefined): GrpcError {
  if (err instanceof InputError) {
    logger?.warn({ domain, problems: err.problems }, 'rls: bad request');
    return { code: GrpcStatus.INVALID_ARGUMENT, details: err.message };
  }
  const failure = grpcFailureStatus(err);
  if (failure) {
    storeFailures.note(logger, { domain, status: failure.details });
    return failure;
  }
  logger?.error(
    {
      domain,
      err:
        err instanceof Error
          ? { type: err.name, message: err.message, stack: err.stack }
          : { type: typeof err },
    },
    'rls: unexpected error',
  );
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}
