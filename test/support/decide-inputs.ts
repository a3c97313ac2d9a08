// A DecideInput for tests: one call on the `chat` endpoint, no limits, quota or credits, unless overridden.

import type { DecideInput } from '../../src/counters/counter-store.js';

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
