// Counters: the Redis WindowCounter — window-count.lua, one EVALSHA for all keys on a single Redis,
// one per key on a Cluster (each counter keeps its own hash tag, so a busy domain spreads over slots).

import { Cluster, type Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import { RedisScript } from './redis-script.js';
import type { WindowCount, WindowCounter } from './window-counter.js';

const WINDOW_COUNT = new RedisScript('window-count.lua');

export class RedisWindowCounter implements WindowCounter {
  constructor(private readonly redis: Redis | Cluster) {}

  async add(items: readonly WindowCount[]): Promise<number[]> {
    if (items.length === 0) return [];
    try {
      if (this.redis instanceof Cluster) return (await Promise.all(items.map((i) => this.run([i])))).flat();
      return await this.run(items);
    } catch (err) {
      throw new StoreUnavailable('redis', err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  private async run(items: readonly WindowCount[]): Promise<number[]> {
    const args = items.flatMap((i) => [String(i.hits), String(i.ttlSec)]);
    const reply = (await WINDOW_COUNT.run(
      this.redis,
      items.map((i) => i.key),
      args,
    )) as unknown[];
    return reply.map(Number);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
