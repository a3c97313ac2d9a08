// The usage flush's script calls are sized to the flush: small while few accounts are pending, never
// more than ACCOUNTS_PER_SCRIPT (so 100,000 accounts still cost 2,000 calls, not 200,000).

import { expect, test } from 'vitest';
import { ACCOUNTS_PER_SCRIPT, accountsPerScript } from '../../src/counters/redis-usage-source.js';

test.each([
  [0, 10],
  [1, 10],
  [1_000, 10],
  [1_001, 11],
  [5_000, 50],
  [10_000, 100],
  [100_000, 100],
])('a flush of %i accounts: %i accounts per call', (accounts, perCall) => {
  expect(accountsPerScript(accounts)).toBe(perCall);
});

test('calls per account per flush stay at or below 0.05 from 4,000 accounts on, and 0.02 at 100,000', () => {
  // Take and ack: 2 calls per group of accountsPerScript(n) accounts.
  const callsPerAccount = (n: number) => (2 * Math.ceil(n / accountsPerScript(n))) / n;
  expect(callsPerAccount(4_000)).toBeLessThanOrEqual(0.05);
  expect(callsPerAccount(100_000)).toBe(2 / ACCOUNTS_PER_SCRIPT);
});
