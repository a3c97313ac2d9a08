// Readiness: a PING to the configured Redis (or Cluster) on a connection of its own, so a probe
// never queues behind decisions; short timeouts, no retries, no offline queue.

import type { CountersConfig } from '../config.js';
import { openRedis } from '../counters/redis-connections.js';

export interface RedisPing {
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** undefined when counters are in process (nothing to ping). */
export function createRedisPing(counters: CountersConfig, timeoutMs: number): RedisPing | undefined {
  if (counters.kind === 'memory') return undefined;
  const redis = openRedis(counters, 'health', timeoutMs);
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
