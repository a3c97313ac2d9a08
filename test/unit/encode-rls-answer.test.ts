// The lean server's ShouldRateLimit answer, written straight from the result, is byte for byte what
// grpc-js sends: the generated encoder over responseFromResult's message.

import { expect, test } from 'vitest';
import type { PolicyState } from '../../src/access/decision.js';
import { RateLimitResponse } from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import type { RlsResult, RlsStatus } from '../../src/rls/rls-result.js';
import { encodeRlsAnswer } from '../../src/transports/grpc/encode-rls-answer.js';
import { responseFromResult } from '../../src/transports/grpc/rls.js';

const generated = (result: RlsResult) =>
  Buffer.from(RateLimitResponse.encode(responseFromResult(result)).finish());

const long = 'x'.repeat(200); // 2-byte length varints
const perMinute = { name: 'per-minute', policyName: 'per-minute', limit: 100, windowMs: 60_000 };
const policies: PolicyState[] = [
  { name: 'per-minute', kind: 'rate', limit: 100, windowSec: 60, remaining: 0, resetSec: 12 },
  { name: `räte-${long}`, kind: 'rate', limit: 5, windowSec: 10, remaining: 3, resetSec: 4 },
];
const statuses: RlsStatus[] = [
  {
    over: true,
    remaining: 0,
    retryAfterMs: 12_000,
    resetMs: 12_000,
    limit: { ...perMinute, unit: 'minute' },
  },
  { over: false, remaining: 7, retryAfterMs: 0, resetMs: 1_500, reservation: 'res_9' },
  // No RLS unit (a 10 s window), a non-ASCII and long name, a past reset, an unlimited rule.
  {
    over: false,
    remaining: 3,
    retryAfterMs: 0,
    resetMs: -5,
    limit: { name: `räte-${long}`, policyName: 'r', limit: 5, windowMs: 10_000, unit: undefined },
  },
  { over: false, remaining: 4_294_967_295, retryAfterMs: 0 },
  { over: false, remaining: 0, retryAfterMs: 0, quota: true },
];
const erl = {
  names: { limit: 'x-ratelimit-limit', remaining: 'x-ratelimit-remaining', reset: 'x-ratelimit-reset' },
  limit: 100,
  remaining: 0,
  resetSec: 12,
};

const results: Record<string, RlsResult> = {};
for (const headers of ['none', 'erl', 'ietf'] as const)
  for (const over of [false, true])
    results[`${headers} headers, ${over ? 'over' : 'not over'}`] = {
      over,
      statuses: statuses.map((s) => ({ ...s, over: over && s.over })),
      headers,
      erl,
      policies,
      violated: over ? ['per-minute'] : [],
    };
results['one descriptor, as the bench sends it'] = {
  over: false,
  statuses: [
    {
      over: false,
      remaining: 999_999_998,
      retryAfterMs: 0,
      resetMs: 250,
      limit: { ...perMinute, unit: 'second' },
    },
  ],
  headers: 'ietf',
  policies: [policies[0]!],
  violated: [],
};
results['global shadow mode: over, answered OK'] = {
  ...results['ietf headers, over']!,
  over: false,
  globalShadow: true,
};
results['a value past 32 bits (the long way)'] = {
  over: false,
  statuses: [
    { over: false, remaining: 5, retryAfterMs: 0, resetMs: 2 ** 45, limit: { ...perMinute, unit: 'minute' } },
  ],
  headers: 'none',
  policies: [],
  violated: [],
};
results['a fractional reset (the long way)'] = {
  ...results['one descriptor, as the bench sends it']!,
  statuses: [{ over: false, remaining: 1, retryAfterMs: 0, resetMs: 10.5 }],
};

for (const [name, result] of Object.entries(results)) {
  test(`the generated encoder's bytes: ${name}`, () => {
    const bytes = encodeRlsAnswer(result);
    expect(bytes.equals(generated(result))).toBe(true);
    // The lean server's gRPC prefix goes in the headroom; the message follows it unchanged.
    expect(encodeRlsAnswer(result, 5).subarray(5).equals(bytes)).toBe(true);
  });
}

test('an answer is its own buffer: the next one does not overwrite it', () => {
  const first = encodeRlsAnswer(results['ietf headers, over']!);
  const copy = Buffer.from(first);
  encodeRlsAnswer(results['erl headers, not over']!);
  expect(first.equals(copy)).toBe(true);
  expect(RateLimitResponse.decode(first).overallCode).toBe(2);
});
