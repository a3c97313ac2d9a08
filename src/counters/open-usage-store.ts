// CountersConfig → what the usage flusher drains and where top-ups land: Redis, or the in-process counters.

import type { Config } from '../config.js';
import type { CountedAccounts } from '../usage/counted-accounts.js';
import type { UsageSource } from '../usage/usage-source.js';
import type { LiveCredits } from './counter-store.js';
import type { MemoryCounterStore } from './memory-counter-store.js';
import { openRedis } from './redis-connections.js';
import { RedisCounterStore } from './redis-counter-store.js';
import { RedisUsageSource } from './redis-usage-source.js';

export interface UsageStore {
  source: UsageSource;
  credits: LiveCredits;
  close(): Promise<void>;
}

/**
 * Redis: a connection of its own, so flushes never queue behind, nor time out like, decisions; when
 * Redis is down at start it keeps reconnecting and the flushes fail (and retry) meanwhile.
 * Memory: `memory` must be the store the decision path counts in (openCounterStore's `memory`).
 * `counted`: the accounts the decision path counted (openCounterStore's), so a flush visits those.
 */
export async function openUsageStore(
  config: Readonly<Config>,
  memory?: MemoryCounterStore,
  counted?: CountedAccounts,
): Promise<UsageStore> {
  const { counters } = config;
  if (counters.kind === 'memory') {
    if (!memory) throw new Error('openUsageStore: the in-process counter store is required without Redis');
    return { source: memory, credits: memory, close: async () => {} };
  }
  const redis = openRedis(counters, 'background');
  redis.on('error', () => {}); // failures surface (and are logged) where a flush or top-up fails
  await redis.connect().catch(() => {});
  const credits = new RedisCounterStore({ redis });
  const source = new RedisUsageSource(redis, counted ? { counted } : {});
  return { source, credits, close: () => credits.close() };
}
