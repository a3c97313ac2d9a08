// Lean gRPC server, ShouldRateLimit step 1: RateLimitRequest bytes → the request rls.ts maps (every field
// Tollgate reads; others skipped). Field numbers: proto/envoy/service/ratelimit/v3/rls.proto and
// proto/envoy/extensions/common/ratelimit/v3/ratelimit.proto.

import type { RateLimitDescriptor } from '../../../generated/envoy/extensions/common/ratelimit/v3/ratelimit.js';
import type { RateLimitRequest } from '../../../generated/envoy/service/ratelimit/v3/rls.js';
import { ProtoReader } from './proto-reader.js';

const REQUEST_DOMAIN = 10; // RateLimitRequest.domain = 1 (string)
const REQUEST_DESCRIPTORS = 18; // RateLimitRequest.descriptors = 2 (message)
const REQUEST_HITS_ADDEND = 24; // RateLimitRequest.hits_addend = 3 (uint32 varint)
const DESCRIPTOR_ENTRIES = 10; // RateLimitDescriptor.entries = 1
const DESCRIPTOR_LIMIT = 18; // RateLimitDescriptor.limit = 2
const DESCRIPTOR_HITS_ADDEND = 26; // RateLimitDescriptor.hits_addend = 3 (google.protobuf.UInt64Value)
const ENTRY_KEY = 10; // Entry.key = 1
const ENTRY_VALUE = 18; // Entry.value = 2
const LIMIT_REQUESTS_PER_UNIT = 8; // RateLimitOverride.requests_per_unit = 1 (uint32)
const LIMIT_UNIT = 16; // RateLimitOverride.unit = 2 (enum)
const WRAPPER_VALUE = 8; // UInt64Value.value = 1

/** Throws MalformedMessage for bytes that are not protobuf. */
export function decodeRateLimitRequest(buf: Buffer, start: number, end: number): RateLimitRequest {
  const r = new ProtoReader(buf, start, end);
  const request: RateLimitRequest = { domain: '', descriptors: [], hitsAddend: 0 };
  while (!r.done) {
    const tag = r.tag();
    if (tag === REQUEST_DOMAIN) request.domain = r.name();
    else if (tag === REQUEST_DESCRIPTORS) request.descriptors.push(readDescriptor(r, r.nested()));
    else if (tag === REQUEST_HITS_ADDEND) request.hitsAddend = r.uint32();
    else r.skip(tag);
  }
  r.finish(end);
  return request;
}

function readDescriptor(r: ProtoReader, end: number): RateLimitDescriptor {
  const descriptor: RateLimitDescriptor = { entries: [], limit: undefined, hitsAddend: undefined };
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === DESCRIPTOR_ENTRIES) {
      const entryEnd = r.nested();
      const entry = { key: '', value: '' };
      while (r.pos < entryEnd) {
        const inner = r.tag();
        if (inner === ENTRY_KEY) entry.key = r.name();
        else if (inner === ENTRY_VALUE) entry.value = r.string();
        else r.skip(inner);
      }
      r.finish(entryEnd);
      descriptor.entries.push(entry);
    } else if (tag === DESCRIPTOR_LIMIT) {
      const limitEnd = r.nested();
      const limit = (descriptor.limit ??= { requestsPerUnit: 0, unit: 0 });
      while (r.pos < limitEnd) {
        const inner = r.tag();
        if (inner === LIMIT_REQUESTS_PER_UNIT) limit.requestsPerUnit = r.uint32();
        else if (inner === LIMIT_UNIT) limit.unit = r.int32();
        else r.skip(inner);
      }
      r.finish(limitEnd);
    } else if (tag === DESCRIPTOR_HITS_ADDEND) {
      // A present wrapper without its field is 0 ("check only"), as in the generated decoder.
      const wrapperEnd = r.nested();
      let hits = 0;
      while (r.pos < wrapperEnd) {
        const inner = r.tag();
        if (inner === WRAPPER_VALUE) hits = r.uint64();
        else r.skip(inner);
      }
      r.finish(wrapperEnd);
      descriptor.hitsAddend = hits;
    } else r.skip(tag);
  }
  r.finish(end);
  return descriptor;
}
