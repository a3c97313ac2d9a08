// The admin API on real Postgres and Redis: auth, every route's happy path and bad bodies, idempotent
// credits, the billing summary, whole-policy validation, the OpenAPI document and the audit trail.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCounterInspector } from '../../src/counters/redis-counter-inspector.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { migrate } from '../../src/db/migrate.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { policySchemaAsComponents } from '../../src/policy/policy-schema.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';
import { adminRoutes, createAdminServer } from '../../src/transports/admin/admin-server.js';
import { freshPostgres, type FreshPostgres } from '../support/databases.js';
import { DEMO_POLICY_YAML, REDIS_URL } from '../support/tollgate.js';

const TOKEN = 'admin-test-token-0123456789abcdef';
const NASTY = `Robert'); drop table accounts; -- "quoted" \\ back %_ $1 :x ü`;

let db: FreshPostgres;
let server: Server;
let base: string;
let redis: Redis;
let reloads = 0;
const accountIds: string[] = [];
/** Every plaintext key the API handed out, to prove the audit log never holds one. */
const plaintextKeys: string[] = [];

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // YAML or empty
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const paths = (answer: Answer) => (answer.body.errors as Array<{ path: string }>).map((e) => e.path).sort();

async function newAccount(name: string, tier = 'pro', extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await call('POST', '/admin/accounts', { name, tier, ...extra });
  expect(answer.status).toBe(201);
  accountIds.push(answer.body.id);
  return answer.body.id as string;
}

beforeAll(async () => {
  db = await freshPostgres();
  await migrate(db.sql);
  await savePolicy(db.sql, parsePolicy(DEMO_POLICY_YAML));
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  server = createAdminServer({
    sql: db.sql,
    adminToken: TOKEN,
    inspector: new RedisCounterInspector(redis),
    reloadPolicy: async () => void reloads++,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  for (const id of accountIds) {
    const keys = await redis.keys(`{a:${id}}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis?.disconnect();
  await db?.drop();
});

describe('authentication', () => {
  it('every route answers 401 problem+json without the token, with a wrong one, or with a prefix of it', async () => {
    for (const route of adminRoutes({ sql: db.sql })) {
      const path = route.path.replace('{id}', 'acc_aaaaaaaaaaaaaaaa');
      for (const authorization of [
        undefined,
        'Bearer wrong-token',
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Basic ${TOKEN}`,
        TOKEN,
      ]) {
        const res = await fetch(base + path, {
          method: route.method,
          headers: authorization ? { authorization } : {},
        });
        expect(res.status, `${route.method} ${route.path} with ${authorization}`).toBe(401);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(((await res.json()) as { code: string }).code).toBe('unauthorized');
      }
    }
  });

  it('unknown paths (after auth) are 404 and a wrong method 405 with Allow', async () => {
    expect((await call('GET', '/admin/nope')).status).toBe(404);
    const wrong = await call('DELETE', '/admin/policy');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, PUT');
  });
});

describe('accounts', () => {
  it('opens, reads and changes an account; SQL metacharacters are stored verbatim', async () => {
    const id = await newAccount(NASTY, 'free', { billing_anchor_day: 15, credits: 7 });
    const read = await call('GET', `/admin/accounts/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id,
      name: NASTY,
      tier: 'free',
      status: 'active',
      billing_anchor_day: 15,
      billing_customer_id: null,
      credit_balance: 7,
      keys: [],
    });

    const patched = await call('PATCH', `/admin/accounts/${id}`, {
      tier: 'pro',
      status: 'suspended',
      billing_customer_id: NASTY,
      billing_anchor_day: 31,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      tier: 'pro',
      status: 'suspended',
      billing_customer_id: NASTY,
      billing_anchor_day: 31,
    });
    expect(
      (await call('PATCH', `/admin/accounts/${id}`, { billing_customer_id: null })).body.billing_customer_id,
    ).toBeNull();
    expect((await db.sql.query('select count(*)::int as n from accounts'))[0]!.n).toBeGreaterThan(0); // the table survived
  });

  it('answers 400 naming every bad or unknown field, and changes nothing', async () => {
    const bad = await call('POST', '/admin/accounts', { name: 5, tier: 'pro', credits: -1, colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(paths(bad)).toEqual(['colour', 'credits', 'name']);
    expect(bad.body.detail).toContain('colour: unknown field');
    expect(paths(await call('POST', '/admin/accounts', {}))).toEqual(['name', 'tier']);
    expect(paths(await call('POST', '/admin/accounts', { name: 'x', tier: 'platinum' }))).toEqual(['tier']);

    const id = await newAccount('patch-me');
    const before = await call('GET', `/admin/accounts/${id}`);
    expect(
      paths(await call('PATCH', `/admin/accounts/${id}`, { status: 'frozen', billing_anchor_day: 32 })),
    ).toEqual(['billing_anchor_day', 'status']);
    expect(
      paths(await call('PATCH', `/admin/accounts/${id}`, { tier: 'platinum', status: 'suspended' })),
    ).toEqual(['tier']);
    expect(paths(await call('PATCH', `/admin/accounts/${id}`, {}))).toEqual(['body']);
    expect((await call('GET', `/admin/accounts/${id}`)).body).toEqual(before.body);
  });

  it('404 for unknown or hostile ids; 415, 400 and 413 for bodies that are not small JSON objects', async () => {
    expect((await call('GET', `/admin/accounts/acc_zzzzzzzzzzzzzzzz`)).status).toBe(404);
    expect((await call('GET', `/admin/accounts/${encodeURIComponent("x' or '1'='1")}`)).status).toBe(404);
    expect((await call('PATCH', `/admin/accounts/acc_zzzzzzzzzzzzzzzz`, { status: 'active' })).status).toBe(
      404,
    );
    expect(
      (
        await call('POST', '/admin/accounts', 'name=x', {
          'content-type': 'application/x-www-form-urlencoded',
        })
      ).status,
    ).toBe(415);
    expect(paths(await call('POST', '/admin/accounts', '{"name": '))).toEqual(['body']);
    expect(paths(await call('POST', '/admin/accounts', '[1, 2]'))).toEqual(['body']);
    const huge = await call('POST', '/admin/accounts', { name: 'x'.repeat(100 * 1024), tier: 'pro' });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('payload_too_large');
  });
});

describe('keys', () => {
  it('issues a key once, finds it by prefix without key material, rotates with a grace period and revokes', async () => {
    const accountId = await newAccount('keys');
    const created = await call('POST', `/admin/accounts/${accountId}/keys`, {
      name: NASTY,
      expires_at: '2099-01-01T00:00:00Z',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toMatchObject({
      account_id: accountId,
      name: NASTY,
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    expect(created.body.key).toMatch(/^tg_live_[a-z2-7]{32}$/);
    plaintextKeys.push(created.body.key);
    const [stored] = await db.sql.query('select key_hash, name from api_keys where id = $1', [
      created.body.id,
    ]);
    expect(stored).toEqual({ key_hash: hashApiKey(created.body.key), name: NASTY });

    const listed = await call('GET', `/admin/keys?prefix=${created.body.prefix}`);
    expect(listed.status).toBe(200);
    expect(listed.body.keys).toContainEqual(
      expect.objectContaining({
        id: created.body.id,
        account_id: accountId,
        prefix: created.body.prefix,
        state: 'active',
        revoked_at: null,
      }),
    );
    expect(listed.text).not.toContain(created.body.key);
    expect(listed.text).not.toContain(hashApiKey(created.body.key));
    expect((await call('GET', '/admin/keys?prefix=tg_live_%25')).body.keys).toEqual([]); // % is literal, not a wildcard

    const rotated = await call('POST', `/admin/keys/${created.body.id}/rotate`, { grace_seconds: 3600 });
    expect(rotated.status).toBe(201);
    plaintextKeys.push(rotated.body.key);
    expect(rotated.body).toMatchObject({
      replaces: created.body.id,
      account_id: accountId,
      name: NASTY,
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    const graceEnd = Date.parse(rotated.body.replaced_key_expires_at);
    expect(Math.abs(graceEnd - (Date.now() + 3_600_000))).toBeLessThan(60_000);

    const revoked = await call('POST', `/admin/keys/${rotated.body.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: rotated.body.id, state: 'revoked' });
    expect((await call('POST', `/admin/keys/${rotated.body.id}/revoke`, {})).status).toBe(200); // idempotent
    expect((await call('POST', `/admin/keys/${rotated.body.id}/rotate`, {})).status).toBe(409);
  });

  it('answers 400 naming the field, and 404 for unknown keys and accounts', async () => {
    const accountId = await newAccount('keys-bad');
    expect(
      paths(await call('POST', `/admin/accounts/${accountId}/keys`, { expires_at: 'tomorrow', secret: 'x' })),
    ).toEqual(['expires_at', 'secret']);
    expect(
      paths(await call('POST', `/admin/accounts/${accountId}/keys`, { expires_at: '2001-01-01T00:00:00Z' })),
    ).toEqual(['expires_at']);
    expect(
      paths(await call('POST', '/admin/keys/key_aaaaaaaaaaaaaaaa/rotate', { grace_seconds: -1 })),
    ).toEqual(['grace_seconds']);
    expect(paths(await call('POST', '/admin/keys/key_aaaaaaaaaaaaaaaa/revoke', { now: true }))).toEqual([
      'now',
    ]);
    expect(paths(await call('GET', '/admin/keys'))).toEqual(['prefix']);
    expect(paths(await call('GET', '/admin/keys?prefix=tg_live_abcd&limit=5'))).toEqual(['limit']);
    expect((await call('POST', '/admin/keys/key_aaaaaaaaaaaaaaaa/revoke')).status).toBe(404);
    expect((await call('POST', '/admin/keys/key_aaaaaaaaaaaaaaaa/rotate', {})).status).toBe(404);
    expect((await call('POST', '/admin/accounts/acc_zzzzzzzzzzzzzzzz/keys', {})).status).toBe(404);
  });
});

describe('credits', () => {
  it('a top-up replayed with the same idempotency key changes the balance once and answers the same body', async () => {
    const id = await newAccount('credits', 'pro', { credits: 10 });
    const key = `top-up ${NASTY}`;
    const first = await call('POST', `/admin/accounts/${id}/credits`, { amount: 250, idempotency_key: key });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ account_id: id, amount: 250, idempotency_key: key, balance: 260 });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const replay = await call('POST', `/admin/accounts/${id}/credits`, { amount: 250, idempotency_key: key });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const read = await call('GET', `/admin/accounts/${id}/credits`);
    expect(read.body.balance).toBe(260);
    expect(read.body.ledger.map((r: { amount: number; reason: string }) => [r.amount, r.reason])).toEqual([
      [250, 'top_up'],
      [10, 'initial'],
    ]);
    expect(read.body.ledger[0].idempotency_key).toBe(key);

    const reused = await call('POST', `/admin/accounts/${id}/credits`, { amount: 999, idempotency_key: key });
    expect(reused.status).toBe(409);
    expect((await call('GET', `/admin/accounts/${id}/credits`)).body.balance).toBe(260);
    const correction = await call('POST', `/admin/accounts/${id}/credits`, {
      amount: -60,
      idempotency_key: 'fix-1',
    });
    expect(correction.body.balance).toBe(200);
  });

  it('answers 400 naming the field', async () => {
    const id = await newAccount('credits-bad');
    expect(
      paths(await call('POST', `/admin/accounts/${id}/credits`, { amount: 0, idempotency_key: 'a' })),
    ).toEqual(['amount']);
    expect(paths(await call('POST', `/admin/accounts/${id}/credits`, { amount: 1.5 }))).toEqual([
      'amount',
      'idempotency_key',
    ]);
    expect(
      paths(await call('POST', `/admin/accounts/${id}/credits`, { amount: '5', idempotency_key: '' })),
    ).toEqual(['amount', 'idempotency_key']);
    expect(
      (
        await call('POST', '/admin/accounts/acc_zzzzzzzzzzzzzzzz/credits', {
          amount: 5,
          idempotency_key: 'zz',
        })
      ).status,
    ).toBe(404);
  });
});

describe('policy', () => {
  it('reads the stored policy as YAML or JSON', async () => {
    const yaml = await call('GET', '/admin/policy');
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(parsePolicy(yaml.text)).toEqual(await loadPolicy(db.sql));
    const json = await call('GET', '/admin/policy', undefined, { accept: 'application/json' });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.body.tiers.pro.price).toEqual({ monthly: 49, overage_per_1000: 0.5, currency: 'usd' });
  });

  it('a broken policy answers every problem with its path and changes nothing', async () => {
    const before = await loadPolicy(db.sql);
    const broken = `
tiers:
  free:
    limits:
      - { name: per-minute, algorithm: leaky, limit: 0, window: 60s }
    quota: { requests: -5, period: month }
endpoints:
  chat:
    match: { path: /v1/chat/** }
    cost: lots
`;
    const answer = await call('PUT', '/admin/policy', broken, { 'content-type': 'application/yaml' });
    expect(answer.status).toBe(400);
    const errorPaths = paths(answer);
    expect(errorPaths).toEqual(
      expect.arrayContaining([
        'tiers.free.limits[0].algorithm',
        'tiers.free.limits[0].limit',
        'tiers.free.quota.requests',
        'endpoints.chat.cost',
      ]),
    );
    expect(answer.body.errors.length).toBeGreaterThanOrEqual(4);
    // Semantic problems point into the YAML like syntax errors: `cost: lots` is on line 10 of the body.
    expect(answer.body.errors).toContainEqual(
      expect.objectContaining({ path: 'endpoints.chat.cost', line: 10, column: 11 }),
    );
    expect(await loadPolicy(db.sql)).toEqual(before);
    const syntax = await call('PUT', '/admin/policy', '{"tiers": ', { 'content-type': 'application/json' });
    expect(syntax.status).toBe(400);
    expect(await loadPolicy(db.sql)).toEqual(before);
    // Removing a tier that accounts are on is refused whole, too.
    const dropsPro = DEMO_POLICY_YAML.replace(/\n {2}pro:[\s\S]*?(?=\n {2}enterprise:)/, '').replace(
      /\n {6}pro: .*/,
      '',
    );
    const refused = await call('PUT', '/admin/policy', dropsPro, { 'content-type': 'application/yaml' });
    expect(refused.status).toBe(400);
    expect(paths(refused)).toEqual(['tiers.pro']);
    expect(await loadPolicy(db.sql)).toEqual(before);
  });

  it('stores a valid policy sent as JSON, then reloads', async () => {
    const current = await call('GET', '/admin/policy', undefined, { accept: 'application/json' });
    const changed = structuredClone(current.body);
    changed.tiers.free.upgrade_url = `https://example.com/up?q=');drop--"x"$1`;
    const reloadsBefore = reloads;
    const answer = await call('PUT', '/admin/policy', changed);
    expect(answer.status).toBe(200);
    expect(answer.body.tiers).toEqual(['free', 'pro', 'enterprise']);
    expect(reloads).toBe(reloadsBefore + 1);
    expect((await loadPolicy(db.sql)).tiers.free!.upgradeUrl).toBe(changed.tiers.free.upgrade_url);
    expect((await call('PUT', '/admin/policy', 'tiers: {}', { 'content-type': 'image/png' })).status).toBe(
      415,
    );
  });
});

describe('usage, billing and live counters', () => {
  const NOV = new Date(Date.UTC(2026, 10, 1));

  it('bills a soft-gated pro account past its quota: pro-rata overage to the cent, credits spent', async () => {
    const id = await newAccount('billing', 'pro');
    // An account older than the months billed here (the first month has its own test: billing-first-month).
    await db.sql.query("update accounts set created_at = '2026-09-15T00:00:00Z' where id = $1", [id]);
    await db.sql.query(
      `insert into usage_monthly (account_id, period_start, endpoint, calls, units, credits) values
         ($1, $2, 'chat', 2000, 10000, 0), ($1, $2, 'default', 2345, 2345, 40), ($1, $3, 'default', 99, 99, 0)`,
      [id, NOV, new Date(Date.UTC(2026, 9, 1))],
    );
    const usage = await call('GET', `/admin/accounts/${id}/usage?month=2026-11`);
    expect(usage.status).toBe(200);
    expect(usage.body).toEqual({
      account_id: id,
      month: '2026-11',
      period: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
      endpoints: [
        { endpoint: 'chat', calls: 2000, units: 10000, credits: 0 },
        { endpoint: 'default', calls: 2345, units: 2345, credits: 40 },
      ],
      totals: { calls: 4345, units: 12345, credits: 40 },
    });
    const bill = await call('GET', `/admin/accounts/${id}/billing?month=2026-11`);
    expect(bill.status).toBe(200);
    // 2345 units over 10000 × 0.50 per 1000 = 1.1725 → 1.17
    expect(bill.body).toMatchObject({
      tier: 'pro',
      currency: 'usd',
      plan_price: 49,
      included_units: 10000,
      units_used: 12345,
      overage_units: 2345,
      overage_per_1000: 0.5,
      overage_amount: 1.17,
      credits_spent: 40,
      total: 50.17,
      calls: 4345,
    });
    const october = await call('GET', `/admin/accounts/${id}/billing?month=2026-10`);
    expect(october.body).toMatchObject({ units_used: 99, overage_units: 0, overage_amount: 0, total: 49 });
    expect(paths(await call('GET', `/admin/accounts/${id}/usage?month=2026-13`))).toEqual(['month']);
    expect(
      paths(await call('GET', `/admin/accounts/${id}/billing?month=${encodeURIComponent("2026-11' --")}`)),
    ).toEqual(['month']);
    expect((await call('GET', '/admin/accounts/acc_zzzzzzzzzzzzzzzz/billing')).status).toBe(404);
  });

  it('shows the live Redis counters of one account with values and PTTL', async () => {
    const id = await newAccount('counters', 'pro');
    const store = new RedisCounterStore({ redis });
    await store.decide({
      accountId: id,
      anchorDay: 1,
      units: 5,
      quota: { limit: 10000, overage: true },
      credits: null,
      endpoint: '',
      limits: [
        {
          id: 't:burst',
          name: 'burst',
          algorithm: 'fixed_window',
          limit: 60,
          windowMs: 60_000,
          shadow: false,
          hits: 1,
        },
      ],
    });
    const answer = await call('GET', `/admin/accounts/${id}/counters`);
    expect(answer.status).toBe(200);
    const byKey = Object.fromEntries(answer.body.counters.map((c: { key: string }) => [c.key, c]));
    expect(Object.keys(byKey)).toEqual([`{a:${id}}:quota`]);
    expect(byKey[`{a:${id}}:quota`]).toMatchObject({ type: 'hash', value: { u: '5', 'l:t:burst:c': '1' } });
    expect(byKey[`{a:${id}}:quota`].pttl_ms).toBeGreaterThan(60_000);
    expect((await call('GET', `/admin/accounts/${accountIds[0]}/counters`)).body.counters).toEqual([]);
  });
});

describe('OpenAPI and the audit trail', () => {
  it('the OpenAPI 3.1 document lists exactly the routes the router serves', async () => {
    const doc = await call('GET', '/admin/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = adminRoutes({ sql: db.sql }).map((r) => `${r.method} ${r.path}`);
    expect(documented.sort()).toEqual(served.sort());
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /admin/accounts',
        'GET /admin/accounts/{id}',
        'PATCH /admin/accounts/{id}',
        'POST /admin/accounts/{id}/keys',
        'GET /admin/keys',
        'POST /admin/keys/{id}/rotate',
        'POST /admin/keys/{id}/revoke',
        'POST /admin/accounts/{id}/credits',
        'GET /admin/accounts/{id}/credits',
        'GET /admin/policy',
        'PUT /admin/policy',
        'GET /admin/accounts/{id}/usage',
        'GET /admin/accounts/{id}/billing',
        'GET /admin/accounts/{id}/counters',
        'GET /admin/openapi.json',
      ]),
    );
    expect(
      doc.body.paths['/admin/accounts'].post.requestBody.content['application/json'].schema,
    ).toMatchObject({ additionalProperties: false, required: ['name', 'tier'] });
    // PUT /admin/policy documents its body with the policy file's JSON Schema (schema/policy.schema.json),
    // its $defs moved into components so every reference resolves inside this document.
    const { schema, components } = policySchemaAsComponents();
    expect(doc.body.paths['/admin/policy'].put.requestBody.content['application/yaml'].schema).toEqual(
      schema,
    );
    expect(doc.body.components.schemas).toMatchObject(components);
    expect(Object.keys(components)).toEqual(['policy.limit', 'policy.descriptor']);
    expect(JSON.stringify(schema)).toContain('"#/components/schemas/policy.limit"');
  });

  it('every change left one audit row, in its transaction, with the actor and without key material', async () => {
    const id = await newAccount('audited');
    await call(
      'PATCH',
      `/admin/accounts/${id}`,
      { status: 'suspended' },
      { 'x-tollgate-actor': 'alice@example.com' },
    );
    await call('PATCH', `/admin/accounts/${id}`, { tier: 'platinum' }); // refused: no row
    const key = await call('POST', `/admin/accounts/${id}/keys`, {});
    plaintextKeys.push(key.body.key);
    const trail = await call('GET', `/admin/audit?target=${id}`);
    expect(trail.body.entries.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
      ['account.update', 'admin:alice@example.com'],
      ['account.create', 'admin'],
    ]);
    expect(trail.body.entries[0].details).toEqual({
      changes: { status: { from: 'active', to: 'suspended' } },
    });

    const rows = await db.sql.query(
      'select actor, action, target, details::text as details from audit_log order by id',
    );
    const actions = new Set(rows.map((r) => r.action));
    for (const action of [
      'account.create',
      'account.update',
      'key.create',
      'key.rotate',
      'key.revoke',
      'credits.add',
      'policy.replace',
    ])
      expect(actions).toContain(action);
    expect(
      rows.filter((r) => r.action === 'credits.add' && String(r.details).includes('top-up')),
    ).toHaveLength(1); // the replay wrote none
    const everything = JSON.stringify(rows);
    expect(plaintextKeys.length).toBeGreaterThanOrEqual(3);
    for (const plaintext of plaintextKeys) {
      expect(everything).not.toContain(plaintext);
      expect(everything).not.toContain(hashApiKey(plaintext));
      expect(everything).not.toContain(plaintext.slice(8)); // not even the random part
    }
    expect(everything).not.toContain(TOKEN);
  });
});
