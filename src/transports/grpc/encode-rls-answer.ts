// gRPC RLS, lean server: an RlsResult → RateLimitResponse wire bytes, with no RateLimitResponse object.
//
// responseFromResult builds the message grpc-js serializes (per descriptor a status with its limit and
// reset, per header a HeaderValue), which encode-rate-limit-response.ts then walks. The lean server
// writes the same bytes straight from the result (a test compares the two for every kind of answer).
// A value the writer does not take (past 32 bits, not an integer) sends the whole answer the long way.

import type { RlsResult, RlsStatus } from '../../rls/rls-result.js';
import { RateLimitResponse_Code as Code } from '../../generated/envoy/service/ratelimit/v3/rls.js';
import { RESERVATION_HEADER } from '../../metering/reservation-settler.js';
import { encodeRateLimitResponse } from './encode-rate-limit-response.js';
import { FIELD_OVERHEAD, type ProtoWriter, protoWriter, stringBound } from './proto-writer.js';
import { MAX_UINT32, RESPONSE_UNITS, responseFromResult, reservationOf, rlsExtras } from './rls.js';

/** `headroom` bytes are left free before the message (the lean server writes its gRPC prefix there). */
export function encodeRlsAnswer(result: RlsResult, headroom = 0): Buffer {
  if (!result.statuses.every(writable)) return encodeRateLimitResponse(responseFromResult(result), headroom);
  const { headers, rawBody } = rlsExtras(result);
  const reservation = result.over ? undefined : reservationOf(result.statuses);
  let bound = 2 * FIELD_OVERHEAD + rawBody.length;
  for (const s of result.statuses) bound += 8 * FIELD_OVERHEAD + (s.limit ? stringBound(s.limit.name) : 0);
  for (let i = 0; i < headers.length; i += 2) bound += headerBound(headers[i]!, headers[i + 1]!);
  if (reservation) bound += headerBound(RESERVATION_HEADER, reservation);
  const w = protoWriter(headroom + bound, headroom);
  // overall_code (1), statuses (2), response_headers_to_add (3), request_headers_to_add (4), raw_body (5).
  w.int(8, result.over ? Code.OVER_LIMIT : Code.OK);
  for (const status of result.statuses) writeStatus(w, status);
  for (let i = 0; i < headers.length; i += 2) writeHeader(w, 26, headers[i]!, headers[i + 1]!);
  if (reservation) writeHeader(w, 34, RESERVATION_HEADER, reservation);
  w.bytes(42, rawBody);
  return w.result();
}

const headerBound = (name: string, value: string) =>
  2 * FIELD_OVERHEAD + stringBound(name) + stringBound(value);
const uint32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= MAX_UINT32;

/** Whether the writer takes every number of the status as statusToWire (rls.ts) makes it. */
function writable(s: RlsStatus): boolean {
  if (!uint32(Math.min(MAX_UINT32, s.remaining))) return false;
  if (s.limit && !uint32(Math.min(MAX_UINT32, s.limit.limit))) return false;
  return s.resetMs === undefined || (Number.isInteger(s.resetMs) && s.resetMs / 1000 <= MAX_UINT32);
}

/** A DescriptorStatus as statusToWire (rls.ts) makes it, in the generated encoder's field order. */
function writeStatus(w: ProtoWriter, s: RlsStatus): void {
  const at = w.begin(18);
  // code (1), current_limit (2), limit_remaining (3), duration_until_reset (4).
  w.int(8, s.over ? Code.OVER_LIMIT : Code.OK);
  if (s.limit) {
    // RateLimit: name (3) first, as the generated encoder writes it.
    const inner = w.begin(18);
    w.string(26, s.limit.name);
    w.int(8, Math.min(MAX_UINT32, s.limit.limit));
    w.int(16, s.limit.unit ? RESPONSE_UNITS[s.limit.unit] : 0);
    w.end(inner);
  }
  w.int(24, Math.min(MAX_UINT32, s.remaining));
  if (s.resetMs !== undefined) {
    const ms = Math.max(0, s.resetMs);
    const inner = w.begin(34);
    w.int(8, Math.floor(ms / 1000));
    w.int(16, (ms % 1000) * 1_000_000);
    w.end(inner);
  }
  w.end(at);
}

function writeHeader(w: ProtoWriter, tag: number, name: string, value: string): void {
  const at = w.begin(tag);
  w.string(10, name);
  w.string(18, value);
  w.end(at);
}
