// The no-op servers' ShouldRateLimit answer: overall_code OK, one OK status per descriptor that has
// entries (UNKNOWN for an empty one), nothing else.

import type { RateLimitDescriptor } from '../../src/generated/envoy/extensions/common/ratelimit/v3/ratelimit.js';
import {
  RateLimitResponse_Code as Code,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';

const NO_BYTES = Buffer.alloc(0);

export function rlsOk(descriptors: readonly Pick<RateLimitDescriptor, 'entries'>[]): RateLimitResponse {
  return {
    overallCode: Code.OK,
    statuses: descriptors.map((d) => ({
      code: d.entries.length > 0 ? Code.OK : Code.UNKNOWN,
      limitRemaining: 0,
    })),
    responseHeadersToAdd: [],
    requestHeadersToAdd: [],
    rawBody: NO_BYTES,
  };
}
