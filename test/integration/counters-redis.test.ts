// The CounterStore contract on real Redis (decide.lua), plus what only a server can do: many clients, TIME, failure.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { StoreUnavailable } from '../../src/errors.js';
import { describeCounterStore } from '../contracts/counter-store.contract.js';
import { describeReservations } from '../contracts/reservation.contract.js';
import { TEN_PER_MINUTE } from '../support/decide-inputs.js';
import { readUsageHash } from '../support/usage-fields.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** A connected client; fails loudly (never skips) when the test Redis is down. */
async function connect(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`these tests need Redis at ${REDIS_URL}, which is not reachable: ${String(err)}`);
  }
  return redis;
}

/** Deletes every key of the given accounts (random ids, so parallel test files never collide). */
async function dropAccounts(accountIds: string[]): Promise<void> {
  const redis = await connect();
  try {
    for (const id of accountIds) {
      const keys = await redis.keys(`{a:${id}}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** RedisCounterStore plus a reader of the usage hash the flusher will drain. */
async function redisStore(now?: () => number) {
  const redis = await connect();
  const store = new RedisCounterStore(now ? { redis, now } : { redis });
  return Object.assign(store, {
    readUsage: (accountId: string) => readUsageHash(redis, accountId),
  });
}

describeCounterStore('redis', (clock) => redisStore(clock.now), dropAccounts);
describeReservations('redis', (clock) => redisStore(clock.now), dropAccounts);

describe('RedisCounterStore on a server', () => {
  const call = (accountId: string, over: Partial<DecideInput> = {}): DecideInput => ({
    accountId,
    anchorDay: 1,
    units: 1,
    quota: null,
    credits: null,
    endpoint: 'chat',
    limits: [TEN_PER_MINUTE],
    ...over,
  });

  test('50 concurrent calls from 5 clients on limit 10: exactly 10 allowed, credits never overdrawn', async () => {
    const accountId = `ct-${randomUUID()}`;
    const stores = await Promise.all(Array.from({ length: 5 }, () => redisStore()));
    try {
      const input = call(accountId, { credits: { cost: 3, seed: 100 } });
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 5]!.decide(input)));
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      expect(Math.min(...results.map((r) => r.credits!.balance))).toBe(70);
      const usage = Object.entries(await stores[0]!.readUsage(accountId));
      expect(usage.filter(([field]) => field.endsWith('|chat|calls')).map(([, n]) => n)).toEqual([10]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropAccounts([accountId]);
    }
  });

  test('without an injected clock the time is Redis TIME', async () => {
    const accountId = `ct-${randomUUID()}`;
    const store = await redisStore();
    try {
      const r = await store.decide(call(accountId));
      expect(Math.abs(r.nowMs - Date.now())).toBeLessThan(2000);
      expect(r.limits[0]!.resetMs).toBe(60_000 - (r.nowMs % 60_000));
    } finally {
      await store.close();
      await dropAccounts([accountId]);
    }
  });

  test('a Redis error is StoreUnavailable(redis), and so is an unreachable server', async () => {
    const accountId = `ct-${randomUUID()}`;
    const store = await redisStore();
    const admin = await connect();
    try {
      await admin.hset(`{a:${accountId}}:credits`, 'wrong', 'type');
      const err = await store
        .decide(call(accountId, { credits: { cost: 1, seed: 5 } }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailable);
      expect((err as StoreUnavailable).store).toBe('redis');
    } finally {
      await store.close();
      admin.disconnect();
      await dropAccounts([accountId]);
    }
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    const offline = new RedisCounterStore({ redis: down });
    const err = await offline.decide(call('whatever')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailable);
    expect((err as StoreUnavailable).message).toMatch(/^redis unavailable: /);
    down.disconnect();
  });
});
