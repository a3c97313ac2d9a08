// envoyproxy/ratelimit's counting (window-count.lua) on real Redis and in process: one contract for both.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { MemoryWindowCounter } from '../../src/counters/memory-window-counter.js';
import { RedisWindowCounter } from '../../src/counters/redis-window-counter.js';
import { describeWindowCounter } from '../contracts/window-counter.contract.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `test:win:${randomUUID()}:`;
const opened: Redis[] = [];

describeWindowCounter('memory', async () => {
  let now = 1_000_000;
  return {
    counter: new MemoryWindowCounter(() => now),
    advance: async (ms) => {
      now += ms;
    },
    prefix: PREFIX,
  };
});

describeWindowCounter('redis', async () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await redis.connect();
  } catch (err) {
    throw new Error(`these tests need Redis at ${REDIS_URL}, which is not reachable: ${String(err)}`);
  }
  opened.push(redis);
  return {
    counter: new RedisWindowCounter(redis),
    // Redis expires keys on its own clock: wait for real.
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    prefix: PREFIX,
  };
});

afterAll(async () => {
  const [redis] = opened;
  if (redis) {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  for (const r of opened) r.disconnect();
});
