// The CounterStore contract on a real local Redis Cluster (three masters), plus many accounts across slots at once.

import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAccount } from '../../src/accounts/create-account.js';
import { loadConfig } from '../../src/config.js';
import { clusterSlot } from '../../src/counters/cluster-slot.js';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { openCounterStore } from '../../src/counters/open-counter-store.js';
import { decideFunction, RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { accountsPerScript, RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { CountedAccounts } from '../../src/usage/counted-accounts.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { startUsageFlusher } from '../../src/usage/start-usage-flusher.js';
import { chatCall, TEN_PER_MINUTE } from '../support/decide-inputs.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';
import { describeCounterStore } from '../contracts/counter-store.contract.js';
import { describeReservations } from '../contracts/reservation.contract.js';
import { describeUsageSource } from '../contracts/usage-source.contract.js';
import { freshPostgres } from '../support/databases.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { readUsageHash } from '../support/usage-fields.js';

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
    readUsage: (accountId: string) => readUsageHash(redis, accountId),
  });
}

// The cluster is thrown away after this file, so no per-account cleanup.
describeCounterStore('redis cluster', (clock) => clusterStore(clock.now));
describeReservations('redis cluster', (clock) => clusterStore(clock.now));

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

// Again with the accounts counted by the decisions: take and ack run many accounts (many slots) per call.
describeUsageSource('redis cluster + postgres, counted accounts', async () => {
  const redis = new Cluster(cluster.nodes, {
    enableAutoPipelining: true,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  const db = await freshPostgres();
  const counted = new CountedAccounts();
  return {
    counters: new RedisCounterStore({ redis, counted }),
    source: new RedisUsageSource(redis, { counted }),
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
      TEN_PER_MINUTE,
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

test('after FUNCTION FLUSH on every master, decisions across the slots load decide.lua on each and are answered', async () => {
  const masters = cluster.nodes.map((node) => new Redis(node));
  const store = await clusterStore();
  try {
    await store.decide(chatCall(`fl-${randomUUID()}`));
    await Promise.all(masters.map((m) => m.call('FUNCTION', 'FLUSH')));
    const accounts = Array.from({ length: 24 }, () => `fl-${randomUUID()}`);
    const results = await Promise.all(accounts.map((id) => store.decide(chatCall(id))));
    expect(results.every((r) => r.allowed)).toBe(true);
    for (const master of masters) {
      const libraries = (await master.call('FUNCTION', 'LIST')) as unknown[][];
      expect(libraries.map((lib) => String(lib[1]))).toEqual([decideFunction().name]);
    }
  } finally {
    await store.close();
    for (const master of masters) master.disconnect();
  }
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

test('the usage source lists its accounts grouped by the master serving them', async () => {
  const redis = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  try {
    await redis.ping(); // the slot map is known
    const counted = new CountedAccounts();
    const ids = Array.from({ length: 300 }, (_, i) => `acc_group${i}`);
    for (const id of ids) counted.add(id);
    // Counted accounts only (no scan due): what a steady flush visits, in slices of 100.
    const source = new RedisUsageSource(redis, { counted, now: () => 0 });
    await source.accounts(); // the first call also scans
    for (const id of ids) counted.add(id);
    // Every account with usage in Redis is listed: the earlier tests' too (the first call scanned).
    const listed = await source.accounts();
    expect(listed.filter((id) => id.startsWith('acc_group')).sort()).toEqual([...ids].sort());
    const owners = listed.map((id) => redis.slots[clusterSlot(`{a:${id}}`)]![0]);
    const runs = owners.filter((owner, i) => i === 0 || owner !== owners[i - 1]);
    expect(new Set(owners).size).toBe(redis.nodes('master').length);
    expect(runs.length).toBe(new Set(owners).size); // each master's accounts in one run
  } finally {
    redis.disconnect();
  }
});

test('300 counted accounts over the slots are flushed by script calls sized to the flush, exactly', async () => {
  const redis = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  const db = await freshPostgres();
  const counted = new CountedAccounts();
  const flusher = startUsageFlusher({
    sources: [new RedisUsageSource(redis, { counted })],
    sql: db.sql,
    logger: createLogger('silent'),
    intervalMs: 3_600_000,
  });
  try {
    await migrate(db.sql);
    await savePolicy(db.sql, parsePolicy(DEMO_POLICY_YAML));
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 50)
      for (const { id } of await Promise.all(
        Array.from({ length: 50 }, () => createAccount(db.sql, { name: 'spread', tier: 'free' })),
      ))
        ids.push(id);
    const store = new RedisCounterStore({ redis, counted });
    const decide = (id: string) => store.decide(chatCall(id));
    await Promise.all(ids.map(decide));
    await flusher.flushNow(); // the first flush also scans every master
    await Promise.all(ids.map(decide));
    const masters = redis.nodes('master');
    await Promise.all(masters.map((node) => node.config('RESETSTAT')));
    expect(await flusher.flushNow()).toEqual({ batches: 300, failed: false });
    let scripts = 0;
    for (const node of masters) {
      const info = await node.info('commandstats');
      for (const [, n] of info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)) scripts += Number(n);
    }
    // Takes of accountsPerScript(300) = 10 accounts, within each master's share of the flush's 3 slices
    // of 100 (one short call per slice and master at most), and one ack per slice and master: not 2
    // per account.
    const perCall = accountsPerScript(ids.length);
    expect(perCall).toBe(10);
    expect(scripts).toBeLessThanOrEqual(ids.length / perCall + 3 * masters.length + 3 * masters.length);
    const [row] = await db.sql.query<{ calls: number }>(
      'select sum(calls)::int as calls from usage_monthly where account_id = any($1::text[])',
      [ids],
    );
    expect(row!.calls).toBe(600);
  } finally {
    await flusher.stop();
    redis.disconnect();
    await db.drop();
  }
}, 60_000);
