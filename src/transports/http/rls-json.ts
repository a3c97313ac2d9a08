// HTTP listener → POST /json: envoyproxy/ratelimit's JSON form of ShouldRateLimit (proto3 JSON of
// RateLimitRequest in, of RateLimitResponse out), through the same pure functions as the gRPC door.

import type { ServerResponse } from 'node:http';
import { InputError, StoreUnavailable } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  RateLimitResponse_Code as Code,
  RateLimitResponse_RateLimit_Unit as WireUnit,
  RateLimitRequest,
  type RateLimitResponse,
} from '../../generated/envoy/service/ratelimit/v3/rls.js';
import { RateLimitUnit } from '../../generated/envoy/type/v3/ratelimit_unit.js';
import type { ShouldRateLimit } from '../../rls/rls-result.js';
import { readBody } from '../admin/admin-http.js';
import { responseFromResult, rlsRequestFromWire } from '../grpc/rls.js';
import type { HttpRoute } from './http-server.js';

const MAX_BODY_BYTES = 1024 * 1024;

/** 200 OK, 429 OVER_LIMIT, 400 for a request it cannot read or decide (as that service answers). */
export function rlsJsonRoute(shouldRateLimit: ShouldRateLimit, logger?: Logger): HttpRoute {
  return async (req, res) => {
    if (req.method !== 'POST') return text(res, 405, 'Method Not Allowed', ['allow', 'POST']);
    let response: RateLimitResponse;
    try {
      const body = parseBody(await readBody(req, MAX_BODY_BYTES));
      response = responseFromResult(await shouldRateLimit(rlsRequestFromWire(requestFromJson(body))));
    } catch (err) {
      if (err instanceof StoreUnavailable) return text(res, 503, 'Service Unavailable');
      if (err instanceof SyntaxError || err instanceof InputError) {
        logger?.warn(
          { problems: err instanceof InputError ? err.problems : err.message },
          'rls json: bad request',
        );
        return text(res, 400, 'Bad Request');
      }
      if ((err as { status?: number }).status === 413) return text(res, 413, 'Payload Too Large');
      logger?.error(
        { err: { type: (err as Error).name, message: (err as Error).message } },
        'rls json failed',
      );
      return text(res, 500, 'Internal Server Error');
    }
    const json = JSON.stringify(responseToJson(response));
    res.writeHead(response.overallCode === Code.OVER_LIMIT ? 429 : 200, [
      'content-type',
      'application/json',
      'content-length',
      String(Buffer.byteLength(json)),
    ]);
    res.end(json);
  };
}

/** GET /healthcheck: `OK` while ready, else 500 with no body (that service's health handler). */
export function rlsHealthcheckRoute(ready: () => boolean): HttpRoute {
  return (_req, res) => {
    if (ready()) return text(res, 200, 'OK');
    res.writeHead(500, ['content-length', '0']);
    res.end();
  };
}

/** Broken JSON, and JSON nested too deep for the parser (a RangeError), are both the client's 400. */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SyntaxError(err instanceof Error ? err.message : 'unreadable JSON');
  }
}

function text(res: ServerResponse, status: number, body: string, extra: string[] = []): void {
  res.writeHead(status, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(body.length),
    ...extra,
  ]);
  res.end(body);
}

/** proto3 JSON: lowerCamelCase or the proto names, uint64 as number or string; anything else is a 400. */
function requestFromJson(body: unknown): RateLimitRequest {
  const o = object(body, '');
  const descriptors = list(field(o, 'descriptors'), 'descriptors').map((d, i) => {
    const at = `descriptors[${i}]`;
    const dobj = object(d, at);
    const entries = list(field(dobj, 'entries'), `${at}.entries`).map((e, j) => {
      const eobj = object(e, `${at}.entries[${j}]`);
      return { key: str(field(eobj, 'key'), 'key'), value: str(field(eobj, 'value'), 'value') };
    });
    const limitRaw = field(dobj, 'limit');
    const limit =
      limitRaw === undefined
        ? undefined
        : (() => {
            const l = object(limitRaw, `${at}.limit`);
            return {
              requestsPerUnit: uint(field(l, 'requests_per_unit'), 'requests_per_unit'),
              unit: unit(field(l, 'unit')),
            };
          })();
    const hits = field(dobj, 'hits_addend');
    return { entries, limit, hitsAddend: hits === undefined ? undefined : uint(hits, `${at}.hits_addend`) };
  });
  return RateLimitRequest.fromPartial({
    domain: str(field(o, 'domain'), 'domain'),
    descriptors,
    hitsAddend: uint(field(o, 'hits_addend'), 'hits_addend'),
  });
}

function field(o: Record<string, unknown>, protoName: string): unknown {
  const camel = protoName.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return o[camel] ?? o[protoName] ?? undefined;
}

const bad = (path: string, message: string): never => {
  throw new InputError([{ path, message }]);
};
const object = (v: unknown, path: string) =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : bad(path, 'expected an object');
const list = (v: unknown, path: string) =>
  v === undefined ? [] : Array.isArray(v) ? v : bad(path, 'expected a list');
const str = (v: unknown, path: string) =>
  v === undefined ? '' : typeof v === 'string' ? v : bad(path, 'expected a string');

function uint(v: unknown, path: string): number {
  if (v === undefined) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
    ? n
    : bad(path, 'expected an unsigned integer');
}

function unit(v: unknown): RateLimitUnit {
  if (v === undefined) return RateLimitUnit.UNKNOWN;
  const byName = typeof v === 'string' ? RateLimitUnit[v as keyof typeof RateLimitUnit] : v;
  return typeof byName === 'number' ? byName : bad('limit.unit', 'expected a unit name');
}

/** protojson.Marshal's shape: default values left out, enums by name, durations as "<s>s". */
function responseToJson(r: RateLimitResponse): Record<string, unknown> {
  const out: Record<string, unknown> = { overallCode: Code[r.overallCode] };
  if (r.statuses.length > 0)
    out.statuses = r.statuses.map((s) => {
      const status: Record<string, unknown> = { code: Code[s.code] };
      if (s.currentLimit) {
        const { name, requestsPerUnit, unit: u } = s.currentLimit;
        status.currentLimit = {
          ...(name ? { name } : {}),
          ...(requestsPerUnit ? { requestsPerUnit } : {}),
          ...(u ? { unit: WireUnit[u] } : {}),
        };
      }
      if (s.limitRemaining) status.limitRemaining = s.limitRemaining;
      if (s.durationUntilReset) status.durationUntilReset = duration(s.durationUntilReset);
      return status;
    });
  if (r.responseHeadersToAdd.length > 0)
    out.responseHeadersToAdd = r.responseHeadersToAdd.map(({ key, value }) => ({ key, value }));
  if (r.rawBody.length > 0) out.rawBody = Buffer.from(r.rawBody).toString('base64');
  return out;
}

function duration(d: { seconds: number; nanos: number }): string {
  return d.nanos === 0 ? `${d.seconds}s` : `${(d.seconds + d.nanos / 1e9).toFixed(9).replace(/0+$/, '')}s`;
}
