// The lean no-op server's ShouldRateLimit result: not over, one status per descriptor with nothing
// limiting it (overall_code OK, each status OK with limit_remaining 0), no headers.

import type { RlsDescriptor, RlsResult } from '../../src/rls/rls-result.js';

export function rlsOk(descriptors: readonly RlsDescriptor[]): RlsResult {
  return {
    over: false,
    statuses: descriptors.map(() => ({ over: false, remaining: 0, retryAfterMs: 0 })),
    headers: 'none',
    policies: [],
    violated: [],
  };
}
