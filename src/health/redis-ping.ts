// Readiness: a PING to the configured Redis (or Cluster) on a connection of its own, so a probe
// never queues behind decisions; short timeouts, no retries, no offline queue.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { CountersConfig } from '../config.js';

export interface RedisPing {
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** undefined when counters are in process (nothing to ping). */
export function createRedisPing(counters: CountersConfig, timeoutMs: number): RedisPing | undefined {
  if (counters.kind === 'memory') return undefined;
  const options: RedisOptions = {
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
    connectionName: 'tollgate-health',
  };
  const redis =
    counters.kind === 'redis-cluster'
      ? new Cluster(counters.nodes, { redisOptions: options, lazyConnect: true, enableOfflineQueue: false })
      : new Redis(counters.url, options);
  // Connection errors surface as failed pings; without a listener ioredis would print them.
  redis.on('error', () => undefined);
  let connecting: Promise<void> | undefined;
  const connect = () => {
    if (redis.status === 'ready') return Promise.resolve();
    connecting ??= redis.connect().finally(() => (connecting = undefined));
    return connecting;
  };
  return {
    async ping() {
      await connect();
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
