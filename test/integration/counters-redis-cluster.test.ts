// The CounterStore contract on a real local Redis Cluster (three masters), plus many accounts across slots at once.

import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { openCounterStore } from '../../src/counters/open-counter-store.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { describeCounterStore } from '../contracts/counter-store.contract.js';
import { describeUsageSource } from '../contracts/usage-source.contract.js';
import { freshPostgres } from '../support/databases.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** A Cluster client as production builds it (auto-pipelining on), and the store on it. */
async function clusterStore(now?: () => number) {
  const redis = new Cluster(cluster.nodes, {
    enableAutoPipelining: true,
    lazyConnect: true,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  await redis.connect();
  const store = new RedisCounterStore(now ? { redis, now } : { redis });
  return Object.assign(store, {
    readUsage: async (accountId: string) => {
      const hash = await redis.hgetall(`{a:${accountId}}:usage`);
      return Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, Number(value)]));
    },
  });
}

// The cluster is thrown away after this file, so no per-account cleanup.
describeCounterStore('redis cluster', (clock) => clusterStore(clock.now));

// The usage flusher's take/ack scripts and per-master SCAN on the same cluster.
describeUsageSource('redis cluster + postgres', async () => {
  const redis = new Cluster(cluster.nodes, {
    enableAutoPipelining: true,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  const db = await freshPostgres();
  return {
    counters: new RedisCounterStore({ redis }),
    source: new RedisUsageSource(redis),
    sql: db.sql,
    async close() {
      redis.disconnect();
      await db.drop();
    },
  };
});

describe('Redis Cluster through openCounterStore (REDIS_CLUSTER_NODES)', () => {
  const call = (accountId: string, over: Partial<DecideInput> = {}): DecideInput => ({
    accountId,
    anchorDay: 1,
    units: 1,
    quota: { limit: 1000, overage: false },
    credits: { cost: 1, seed: 25 },
    endpoint: 'chat',
    limits: [
      {
        id: 't:ten',
        name: 'ten',
        algorithm: 'fixed_window',
        limit: 10,
        windowMs: 60_000,
        shadow: false,
        hits: 1,
      },
      {
        id: 'e:chat:sw',
        name: 'sw',
        algorithm: 'sliding_window',
        limit: 50,
        windowMs: 60_000,
        shadow: false,
        hits: 1,
      },
      {
        id: 'e:chat:tb',
        name: 'tb',
        algorithm: 'token_bucket',
        limit: 50,
        windowMs: 60_000,
        burst: 50,
        shadow: false,
        hits: 1,
      },
    ],
    ...over,
  });

  test('64 accounts spread over the slots, 30 concurrent calls each in the same ticks: exactly 10 allowed each, no CROSSSLOT', async () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: cluster.env, REDIS_TIMEOUT_MS: '2000' });
    const store = await openCounterStore(config);
    try {
      const accounts = Array.from({ length: 64 }, () => `cl-${randomUUID()}`);
      const results = await Promise.all(
        accounts.flatMap((id) =>
          Array.from({ length: 30 }, () => store.decide(call(id)).then((r) => ({ id, r }))),
        ),
      );
      const allowed = new Map<string, number>();
      for (const { id, r } of results) if (r.allowed) allowed.set(id, (allowed.get(id) ?? 0) + 1);
      expect([...allowed.values()]).toEqual(Array(64).fill(10));
      expect(results.every(({ r }) => !r.degraded)).toBe(true);
      expect(Math.min(...results.map(({ r }) => r.credits!.balance))).toBe(15);
      const slots = new Set(accounts.map((id) => slotOf(`a:${id}`)));
      console.log(
        `[cluster] 64 accounts × 30 calls over ${slots.size} slots: ${results.length} decisions, ${[...allowed.values()].reduce((a, b) => a + b, 0)} allowed`,
      );
    } finally {
      await store.close();
    }
  });
});

/** CRC16/XMODEM mod 16384 of a hash tag's content (for the printed figure only). */
function slotOf(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
