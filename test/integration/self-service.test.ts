// GET /v1/me and /v1/usage on the HTTP listener, with real Postgres and Redis: own key only, not charged
// to the quota, and a small per-key limit of their own.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKey } from '../../src/accounts/api-keys.js';
import { createCheckAccess } from '../../src/access/create-check-access.js';
import { billingPeriod } from '../../src/billing/billing-period.js';
import type { CounterStore } from '../../src/counters/counter-store.js';
import { MemoryCounterInspector } from '../../src/counters/memory-counter-inspector.js';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { RedisCounterInspector } from '../../src/counters/redis-counter-inspector.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { CachedKeyStore } from '../../src/keys/cached-key-store.js';
import { SqlKeyStore } from '../../src/keys/sql-key-store.js';
import { PolicyResolver } from '../../src/policy/policy-resolver.js';
import { loadPolicy } from '../../src/policy/policy-repository.js';
import { createHttpServer } from '../../src/transports/http/http-server.js';
import { createSelfServiceRoutes } from '../../src/transports/self-service/self-service-routes.js';
import { prepareDatabase, REDIS_URL, type PreparedDatabase } from '../support/tollgate.js';
import { deleteAccountKeys } from '../support/redis-keys.js';

let db: PreparedDatabase;
let sql: PostgresSql;
let redis: Redis;
const servers: Server[] = [];

async function serve(
  counters: CounterStore,
  inspector: RedisCounterInspector | MemoryCounterInspector,
  limitPerMinute?: number,
): Promise<string> {
  const policy = new PolicyResolver(await loadPolicy(sql));
  const keys = new CachedKeyStore({ inner: new SqlKeyStore(sql), ttlMs: 0, negativeTtlMs: 0 });
  const routes = createSelfServiceRoutes({
    keys,
    counters,
    sql,
    policy: () => policy,
    inspector,
    ...(limitPerMinute ? { limitPerMinute } : {}),
  });
  const server = createHttpServer({
    checkAccess: createCheckAccess({ keys, policy: () => policy, counters }),
    routes,
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  db = await prepareDatabase({
    accounts: [
      { label: 'pro', tier: 'pro' },
      { label: 'free', tier: 'free' },
      { label: 'revoked', tier: 'free' },
      { label: 'limited', tier: 'pro' },
      { label: 'memory', tier: 'free' },
    ],
  });
  sql = new PostgresSql(db.url);
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});

afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  await deleteAccountKeys(redis, Object.values(db?.accounts ?? {}));
  redis?.disconnect();
  await sql?.close();
  await db?.drop();
});

describe('self-service on Redis', () => {
  let base: string;
  beforeAll(async () => {
    base = await serve(new RedisCounterStore({ redis }), new RedisCounterInspector(redis));
  });

  it('/v1/me answers with the key holder own account, by x-api-key or Bearer, and charges nothing', async () => {
    const id = db.accounts.pro!;
    // Two allowed calls through /check put 2 units on the live quota counter.
    for (let i = 0; i < 2; i++) {
      const check = await fetch(`${base}/check`, {
        headers: { 'x-api-key': db.keys.pro!, 'x-original-uri': '/v1/things', 'x-original-method': 'GET' },
      });
      expect(check.status).toBe(204);
    }
    const quotaOf = async () => redis.hmget(`{a:${id}}:quota`, 'p', 'u');
    const before = await quotaOf();
    const me = await fetch(`${base}/v1/me`, { headers: { 'x-api-key': db.keys.pro! } });
    expect(me.status).toBe(200);
    const body = await me.json();
    const period = billingPeriod(Date.now(), 1);
    expect(body).toEqual({
      account_id: id,
      tier: 'pro',
      status: 'active',
      key: { id: db.keyIds.pro, prefix: db.keys.pro!.slice(0, 12), expires_at: null },
      quota: { limit: 10000, used: 2, overage: true, remaining: 9998 },
      limits: [{ name: 'burst', algorithm: 'token_bucket', limit: 60, window_seconds: 60 }],
      metered: [
        {
          endpoint: 'chat',
          unit: 'tokens',
          reserve: 5,
          max_reserve: 500,
          reserve_header: 'x-reserve-tokens',
          settle_within_seconds: 600,
        },
      ],
      credits: null,
      period: { start: new Date(period.startMs).toISOString(), end: new Date(period.endMs).toISOString() },
    });
    expect(JSON.stringify(body)).not.toContain(db.keys.pro!);
    expect(me.headers.get('ratelimit-policy')).toBe('"self-service";q=60;w=60');
    const bearer = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${db.keys.pro}` } });
    expect(bearer.status).toBe(200);
    expect(await quotaOf()).toEqual(before); // not charged to the quota (the hash holds its own limit's state)
    const usageFields = Object.keys(await redis.hgetall(`{a:${id}}:usage`));
    expect(usageFields.every((f) => !f.includes('|self') && f.split('|')[1] !== '')).toBe(true); // no usage record
  });

  it('/v1/usage answers this period by endpoint from the flushed usage', async () => {
    const id = db.accounts.free!;
    const period = billingPeriod(Date.now(), 1);
    await sql.query(
      `insert into usage_monthly (account_id, period_start, endpoint, calls, units, credits) values ($1, $2, 'chat', 3, 15, 0), ($1, $2, 'default', 4, 4, 0), ($1, $3, 'default', 50, 50, 0)`,
      [id, new Date(period.startMs), new Date(period.startMs - 86_400_000 * 40)],
    );
    const usage = await fetch(`${base}/v1/usage`, { headers: { 'x-api-key': db.keys.free! } });
    expect(usage.status).toBe(200);
    expect(await usage.json()).toEqual({
      account_id: id,
      period: { start: new Date(period.startMs).toISOString(), end: new Date(period.endMs).toISOString() },
      endpoints: [
        { endpoint: 'chat', calls: 3, units: 15, credits: 0 },
        { endpoint: 'default', calls: 4, units: 4, credits: 0 },
      ],
      totals: { calls: 7, units: 19, credits: 0 },
    });
    const me = (await (await fetch(`${base}/v1/me`, { headers: { 'x-api-key': db.keys.free! } })).json()) as {
      quota: unknown;
    };
    expect(me.quota).toEqual({ limit: 100, used: 19, overage: false, remaining: 81 }); // no live counter yet: the flushed units
  });

  it('401 without a key, with an unknown key, and with a revoked one; 405 for other methods', async () => {
    for (const path of ['/v1/me', '/v1/usage']) {
      const none = await fetch(base + path);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await none.json()) as { code: string }).code).toBe('missing_api_key');
      const unknown = await fetch(base + path, { headers: { 'x-api-key': 'tg_live_nope' } });
      expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([
        401,
        'invalid_api_key',
      ]);
    }
    await revokeKey(sql, db.keyIds.revoked!);
    expect((await fetch(`${base}/v1/me`, { headers: { 'x-api-key': db.keys.revoked! } })).status).toBe(401);
    expect(
      (await fetch(`${base}/v1/me`, { method: 'POST', headers: { 'x-api-key': db.keys.pro! } })).status,
    ).toBe(405);
  });
});

describe('the self-service limit', () => {
  it('answers 429 with Retry-After and RateLimit headers past the per-key limit (Redis)', async () => {
    const base = await serve(new RedisCounterStore({ redis }), new RedisCounterInspector(redis), 3);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await fetch(`${base}/v1/usage`, { headers: { 'x-api-key': db.keys.limited! } })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await fetch(`${base}/v1/me`, { headers: { 'x-api-key': db.keys.limited! } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(await limited.json()).toMatchObject({
      code: 'rate_limit_exceeded',
      'violated-policies': ['self-service'],
    });
    // The API itself is not affected: the account's own limits are separate counters.
    const check = await fetch(`${base}/check`, {
      headers: { 'x-api-key': db.keys.limited!, 'x-original-uri': '/v1/x', 'x-original-method': 'GET' },
    });
    expect(check.status).toBe(204);
  });

  it('the same with the in-process counters', async () => {
    const store = new MemoryCounterStore();
    const base = await serve(store, new MemoryCounterInspector(store), 2);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await fetch(`${base}/v1/me`, { headers: { 'x-api-key': db.keys.memory! } })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const counters = await new MemoryCounterInspector(store).inspect(db.accounts.memory!);
    expect(counters.map((c) => c.key)).toEqual([`{a:${db.accounts.memory}}:quota`]);
    expect(counters[0]!.value).toMatchObject({ [`l:self:${db.keyIds.memory}:c`]: '2' });
  });
});
