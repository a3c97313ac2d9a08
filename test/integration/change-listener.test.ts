// Hot invalidation: a change written in Postgres (NOTIFY in its transaction) reaches every replica's caches at once.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setAccountStatus } from '../../src/accounts/account-status.js';
import { createKey, revokeKey, rotateKey } from '../../src/accounts/api-keys.js';
import { createAccount } from '../../src/accounts/create-account.js';
import { addCredits } from '../../src/accounts/credits.js';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { migrate } from '../../src/db/migrate.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import type { Sql } from '../../src/db/sql.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { freshPglite, freshPostgres, type FreshPostgres } from '../support/databases.js';
import { msUntil, startReplica, type Replica } from '../support/replica.js';
import { REDIS_URL } from '../support/tollgate.js';

const POLICY = `
tiers:
  paid:
    limits: [{ name: big, algorithm: fixed_window, limit: 100000, window: 60s }]
    quota: unlimited
    credits_per_request: 1
endpoints:
  chat:
    match: { path: /v1/chat/** }
    cost: 1
`;
const GATED = POLICY.replace('cost: 1', 'cost: 1\n    overrides:\n      paid: { allowed: false }');

async function setup(sql: Sql) {
  await migrate(sql);
  await savePolicy(sql, parsePolicy(POLICY));
  const { id } = await createAccount(sql, { name: 'listener', tier: 'paid', credits: 3 });
  const key = await createKey(sql, { accountId: id });
  return { accountId: id, key };
}

const code = (d: { allowed: boolean; code?: string }) => (d.allowed ? 'allowed' : d.code);

describe('two replicas on Postgres + Redis', () => {
  let db: FreshPostgres;
  let redis: Redis;
  let replicas: Replica[];
  let pools: PostgresSql[];
  let accountId: string;
  let key: { id: string; key: string };

  beforeAll(async () => {
    db = await freshPostgres();
    ({ accountId, key } = await setup(db.sql));
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    pools = [new PostgresSql(db.url), new PostgresSql(db.url)];
    replicas = await Promise.all(
      pools.map((sql) => startReplica({ sql, counters: new RedisCounterStore({ redis }) })),
    );
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await Promise.all(pools.map((p) => p.close()));
    const keys = await redis.keys(`{a:${accountId}}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  });

  test('a credit top-up is in the live balance at once, applied once however many replicas hear it', async () => {
    for (let i = 0; i < 3; i++) expect(code(await replicas[i % 2]!.check(key.key))).toBe('allowed');
    expect(code(await replicas[0]!.check(key.key))).toBe('insufficient_credits');
    await addCredits(db.sql, accountId, 2, 'topup-1');
    const ms = await msUntil(async () => (await redis.get(`{a:${accountId}}:credits`)) === '2');
    console.log(`credit top-up visible in the live balance after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100)); // both replicas applied (or skipped) it by now
    expect(await redis.get(`{a:${accountId}}:credits`)).toBe('2');
    expect(code(await replicas[1]!.check(key.key))).toBe('allowed');
    expect(code(await replicas[0]!.check(key.key))).toBe('allowed');
    expect(code(await replicas[0]!.check(key.key))).toBe('insufficient_credits');
    await addCredits(db.sql, accountId, 100, 'topup-2');
    await msUntil(async () => (await redis.get(`{a:${accountId}}:credits`)) === '100');
  });

  test('a policy change reaches both replicas within a second', async () => {
    await savePolicy(db.sql, parsePolicy(GATED));
    const ms = await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(key.key)) === 'endpoint_not_in_plan', 1000)),
    );
    console.log(`policy change applied by both replicas after ${Math.max(...ms)} ms`);
    await savePolicy(db.sql, parsePolicy(POLICY));
    await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(key.key)) === 'allowed', 1000)),
    );
  });

  test('a suspended account is refused by both replicas within a second, and let in again', async () => {
    await setAccountStatus(db.sql, accountId, 'suspended');
    const ms = await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(key.key)) === 'account_suspended', 1000)),
    );
    console.log(`account suspension seen by both replicas after ${Math.max(...ms)} ms`);
    await setAccountStatus(db.sql, accountId, 'active');
    await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(key.key)) === 'allowed', 1000)),
    );
  });

  test('rotation with grace 0 and revocation are refused by both replicas within a second', async () => {
    const rotated = await rotateKey(db.sql, key.id, 0);
    await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(key.key)) === 'invalid_api_key', 1000)),
    );
    // The new key works at once.
    expect(code(await replicas[0]!.check(rotated.key))).toBe('allowed');
    const started = performance.now();
    await revokeKey(db.sql, rotated.id);
    const ms = await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(rotated.key)) === 'invalid_api_key', 1000)),
    );
    console.log(
      `revoked key refused by both replicas after ${Math.max(...ms)} ms (revoke call included: ${Math.round(performance.now() - started)} ms)`,
    );
  });

  test('a key created after its hash was cached as unknown works at once (negative cache dropped)', async () => {
    const fresh = await createKey(db.sql, { accountId });
    expect(code(await replicas[0]!.check(fresh.key))).toBe('allowed');
  });

  test('a lost LISTEN connection reloads everything once it is back', async () => {
    const fresh = await createKey(db.sql, { accountId });
    await replicas[0]!.check(fresh.key); // cached
    const cleared = new Promise<void>((resolve) => {
      const keys = replicas[0]!.keys;
      const expireAll = keys.expireAll.bind(keys);
      keys.expireAll = () => (expireAll(), resolve());
    });
    const killed = await db.sql.query<{ n: number }>(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
    );
    expect(killed[0]!.n).toBeGreaterThanOrEqual(2);
    await cleared;
    // The listeners are back: a revocation is seen again.
    await revokeKey(db.sql, fresh.id);
    await Promise.all(
      replicas.map((r) => msUntil(async () => code(await r.check(fresh.key)) === 'invalid_api_key', 2000)),
    );
  });
});

describe('embedded: PGlite + in-process counters', () => {
  test('revoke, suspend and top-up reach the running replica at once', async () => {
    const sql = await freshPglite();
    const { accountId, key } = await setup(sql);
    const counters = new MemoryCounterStore();
    const replica = await startReplica({ sql, counters });
    try {
      for (let i = 0; i < 3; i++) expect(code(await replica.check(key.key))).toBe('allowed');
      expect(code(await replica.check(key.key))).toBe('insufficient_credits');
      await addCredits(sql, accountId, 1, 'embedded-topup');
      await msUntil(async () => code(await replica.check(key.key)) === 'allowed', 1000);
      await setAccountStatus(sql, accountId, 'suspended');
      await msUntil(async () => code(await replica.check(key.key)) === 'account_suspended', 1000);
      await setAccountStatus(sql, accountId, 'active');
      await revokeKey(sql, key.id);
      const ms = await msUntil(async () => code(await replica.check(key.key)) === 'invalid_api_key', 1000);
      console.log(`embedded: revoked key refused after ${ms} ms`);
    } finally {
      await replica.close();
      await sql.close();
    }
  });
});
