// CountersConfig → CounterInspector for the admin API: its own small Redis connection (admin reads never
// queue behind decisions), or a view of the in-process store the decision path uses.

import type { Config } from '../config.js';
import type { CounterInspector } from './counter-inspector.js';
import type { CounterStore } from './counter-store.js';
import { MemoryCounterInspector } from './memory-counter-inspector.js';
import { MemoryCounterStore } from './memory-counter-store.js';
import { RedisCounterInspector } from './redis-counter-inspector.js';
import { openRedis } from './redis-connections.js';

/** `store` is the undecorated store of the decision path; needed (and must be a MemoryCounterStore) for memory counters only. */
export async function openCounterInspector(
  config: Readonly<Config>,
  store?: CounterStore,
): Promise<CounterInspector> {
  const { counters } = config;
  if (counters.kind === 'memory') {
    if (!(store instanceof MemoryCounterStore))
      throw new Error('openCounterInspector: in-process counters need the MemoryCounterStore instance');
    return new MemoryCounterInspector(store);
  }
  const redis = openRedis(counters, 'inspector');
  // Errors reach the admin request that reads; Redis being down at start must not stop the app (FAILURE_MODE open/local).
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  return new RedisCounterInspector(redis);
}
