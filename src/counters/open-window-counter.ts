// CountersConfig → WindowCounter for RLS domains with `counting: envoy`: its own Redis connection
// (single or Cluster), opened on the first such decision so deployments without them open none.

import type { Config } from '../config.js';
import { MemoryWindowCounter } from './memory-window-counter.js';
import { openRedis } from './redis-connections.js';
import { RedisWindowCounter } from './redis-window-counter.js';
import type { WindowCount, WindowCounter } from './window-counter.js';

export function openWindowCounter(config: Readonly<Config>): WindowCounter {
  const { counters } = config;
  if (counters.kind === 'memory') return new MemoryWindowCounter();
  let opened: Promise<RedisWindowCounter> | undefined;
  const open = async () => {
    // Never re-sent (redis-connections.ts): a retried INCRBY would count twice.
    const redis = openRedis(counters, 'rls-windows', config.redisTimeoutMs);
    redis.on('error', () => {}); // failures reach the caller as StoreUnavailable
    // A failed first connect is left to ioredis' reconnects; calls fail as StoreUnavailable meanwhile.
    await redis.connect().catch(() => {});
    return new RedisWindowCounter(redis);
  };
  return {
    add: async (items: readonly WindowCount[]) => (await (opened ??= open())).add(items),
    close: async () => {
      if (opened) await (await opened).close();
    },
  };
}
