// Decisions as checkAccess makes them, for the tests of what each transport renders from one.

import type { Decision, Denied } from '../../src/access/decision.js';

export const identity = { accountId: 'acct_9', keyId: 'key_9', tier: 'pro' };
export const policies = [
  { name: 'per-minute', kind: 'rate' as const, limit: 100, windowSec: 60, remaining: 7, resetSec: 12 },
  {
    name: 'monthly-quota',
    kind: 'quota' as const,
    limit: 10_000,
    windowSec: 2_592_000,
    remaining: 5,
    resetSec: 86_400,
  },
];

/** An allowed call of `identity` on endpoint chat, both policies in force. */
export const allowed = (over: Partial<Extract<Decision, { allowed: true }>> = {}): Decision => ({
  allowed: true,
  identity,
  endpoint: 'chat',
  policies,
  shadowDenied: [],
  overage: false,
  ...over,
});

/** A call denied by per-minute (429), unless `over` says otherwise. */
export const denied = (over: Partial<Denied>): Decision => ({
  allowed: false,
  code: 'rate_limit_exceeded',
  status: 429,
  detail: 'Limit per-minute reached.',
  identity,
  endpoint: 'chat',
  policies,
  violated: ['per-minute'],
  shadowDenied: [],
  retryAfterSec: 12,
  ...over,
});
