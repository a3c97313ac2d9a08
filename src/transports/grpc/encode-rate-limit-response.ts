// gRPC RLS: RateLimitResponse → wire bytes, in one pass (proto-writer.ts), as encode-check-response.ts
// does for ext_authz. The generated encoder allocated a writer, a fork per nested message and a copy
// of the result: 1.4 µs for the 53-byte answer of one descriptor, 4.1 µs with the IETF headers. This
// writes the same bytes, field for field in the generated order (a test compares the two). Anything
// it does not write (dynamic metadata, quota, negative enums, values past 32 bits) goes to the
// generated encoder, so no field is ever dropped.

import type { HeaderValue } from '../../generated/envoy/config/core/v3/base.js';
import {
  RateLimitResponse,
  type RateLimitResponse_DescriptorStatus,
} from '../../generated/envoy/service/ratelimit/v3/rls.js';
import { FIELD_OVERHEAD, type ProtoWriter, protoWriter, stringBound, withHeadroom } from './proto-writer.js';

/** `headroom` bytes are left free before the message (the lean server writes its gRPC prefix there). */
export function encodeRateLimitResponse(message: RateLimitResponse, headroom = 0): Buffer {
  if (!supported(message)) return withHeadroom(RateLimitResponse.encode(message).finish(), headroom);
  const w = protoWriter(headroom + upperBound(message), headroom);
  w.int(8, message.overallCode);
  for (const status of message.statuses) writeStatus(w, status);
  for (const header of message.responseHeadersToAdd) writeHeader(w, 26, header);
  for (const header of message.requestHeadersToAdd) writeHeader(w, 34, header);
  w.bytes(42, message.rawBody);
  return w.result();
}

const UINT32 = 0xffff_ffff;
/** What the writer's varint takes: an integer from 0 to 2^32 - 1. */
const writable = (v: number) => Number.isInteger(v) && v >= 0 && v <= UINT32;

function supported(m: RateLimitResponse): boolean {
  if (m.dynamicMetadata !== undefined || m.quota !== undefined || !writable(m.overallCode)) return false;
  for (const s of m.statuses) {
    if (s.quota !== undefined || !writable(s.code) || !writable(s.limitRemaining)) return false;
    const limit = s.currentLimit;
    if (limit && (!writable(limit.requestsPerUnit) || !writable(limit.unit))) return false;
    const reset = s.durationUntilReset;
    if (reset && (!writable(reset.seconds) || !writable(reset.nanos))) return false;
  }
  return true;
}

function upperBound(m: RateLimitResponse): number {
  let size = 2 * FIELD_OVERHEAD + m.rawBody.length;
  for (const s of m.statuses)
    size += 8 * FIELD_OVERHEAD + (s.currentLimit ? stringBound(s.currentLimit.name) : 0);
  for (const h of m.responseHeadersToAdd) size += headerBound(h);
  for (const h of m.requestHeadersToAdd) size += headerBound(h);
  return size;
}
const headerBound = (h: HeaderValue) =>
  2 * FIELD_OVERHEAD + stringBound(h.key) + stringBound(h.value) + h.rawValue.length;

// ── Writing (the generated encoders' field order) ──────────────────────────────────────────────

function writeStatus(w: ProtoWriter, s: RateLimitResponse_DescriptorStatus): void {
  const at = w.begin(18);
  w.int(8, s.code);
  const limit = s.currentLimit;
  if (limit) {
    // RateLimit: name (3) first, as the generated encoder writes it.
    const inner = w.begin(18);
    w.string(26, limit.name);
    w.int(8, limit.requestsPerUnit);
    w.int(16, limit.unit);
    w.end(inner);
  }
  w.int(24, s.limitRemaining);
  const reset = s.durationUntilReset;
  if (reset) {
    const inner = w.begin(34);
    w.int(8, reset.seconds);
    w.int(16, reset.nanos);
    w.end(inner);
  }
  w.end(at);
}

function writeHeader(w: ProtoWriter, tag: number, h: HeaderValue): void {
  const at = w.begin(tag);
  w.string(10, h.key);
  w.string(18, h.value);
  w.bytes(26, h.rawValue);
  w.end(at);
}
