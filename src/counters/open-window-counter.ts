// CountersConfig → WindowCounter for RLS domains with `counting: envoy`: its own Redis connection
// (single or Cluster), opened on the first such decision so deployments without them open none.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import { MemoryWindowCounter } from './memory-window-counter.js';
import { reconnectDelay } from './open-counter-store.js';
import { RedisWindowCounter } from './redis-window-counter.js';
import type { WindowCount, WindowCounter } from './window-counter.js';

export function openWindowCounter(config: Readonly<Config>): WindowCounter {
  const { counters } = config;
  if (counters.kind === 'memory') return new MemoryWindowCounter();
  let opened: Promise<RedisWindowCounter> | undefined;
  const open = async () => {
    const options: RedisOptions = {
      commandTimeout: config.redisTimeoutMs,
      connectTimeout: Math.max(1000, config.redisTimeoutMs),
      // Never re-sent: a retried INCRBY would count twice.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
      lazyConnect: true,
      connectionName: 'tollgate-rls-windows',
    };
    const { retryStrategy: _node, enableOfflineQueue: _queue, ...perNode } = options;
    const redis =
      counters.kind === 'redis-cluster'
        ? new Cluster(counters.nodes, {
            redisOptions: perNode,
            clusterRetryStrategy: reconnectDelay,
            enableOfflineQueue: false,
            lazyConnect: true,
          })
        : new Redis(counters.url, options);
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
