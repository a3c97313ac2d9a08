// A DecideInput for tests: one call on the `chat` endpoint, no limits, quota or credits, unless overridden.

import type { DecideInput } from '../../src/counters/counter-store.js';
import type { LimitCheck } from '../../src/policy/limit-rule.js';

export const chatCall = (accountId: string, over: Partial<DecideInput> = {}): DecideInput => ({
  accountId,
  limits: [],
  anchorDay: 1,
  units: 1,
  quota: null,
  credits: null,
  endpoint: 'chat',
  ...over,
});

/** A fixed window of 10 calls a minute, one hit per call: the limit most counter tests bind on. */
export const TEN_PER_MINUTE: LimitCheck = {
  id: 't:ten',
  name: 'ten',
  algorithm: 'fixed_window',
  limit: 10,
  windowMs: 60_000,
  shadow: false,
  hits: 1,
};

/**
 * A `chat` call of 2 units under quota 30 and credits 12 (1 per call), with a fixed window of 10, a
 * shadow sliding window of 8 and a token bucket of 9 per minute: the bucket binds first, at 9 calls.
 */
export const threeLimitsCall = (accountId: string): DecideInput => ({
  accountId,
  anchorDay: 1,
  units: 2,
  endpoint: 'chat',
  quota: { limit: 30, overage: false },
  credits: { cost: 1, seed: 12 },
  limits: [
    TEN_PER_MINUTE,
    {
      id: 't:slide',
      name: 'slide',
      algorithm: 'sliding_window',
      limit: 8,
      windowMs: 60_000,
      shadow: true,
      hits: 1,
    },
    {
      id: 't:bucket',
      name: 'bucket',
      algorithm: 'token_bucket',
      limit: 9,
      windowMs: 60_000,
      burst: 9,
      shadow: false,
      hits: 1,
    },
  ],
});
