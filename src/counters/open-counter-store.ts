// CountersConfig → CounterStore: Redis (single or Cluster) with short timeouts, or in-process counters.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import type { CounterStore } from './counter-store.js';
import { MemoryCounterStore } from './memory-counter-store.js';
import { RedisCounterStore } from './redis-counter-store.js';

export async function openCounterStore(config: Readonly<Config>): Promise<CounterStore> {
  const { counters } = config;
  if (counters.kind === 'memory') return new MemoryCounterStore({});
  const options: RedisOptions = {
    // A decision must never wait on Redis longer than this; the caller maps the timeout to StoreUnavailable.
    commandTimeout: config.redisTimeoutMs,
    connectTimeout: Math.max(1000, config.redisTimeoutMs),
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    lazyConnect: true,
  };
  const redis =
    counters.kind === 'redis-cluster'
      ? new Cluster(counters.nodes, { redisOptions: options, enableAutoPipelining: true, lazyConnect: true })
      : new Redis(counters.url, options);
  await redis.connect();
  return new RedisCounterStore({ redis });
}
