// Admin reads the console is built on (scriptable too): account search, usage per day, replica status, policy dry run.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;
const admin = async (path: string, init: RequestInit & { type?: string } = {}) => {
  const res = await fetch(`http://127.0.0.1:${tg.adminPort}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(init.body ? { 'content-type': init.type ?? 'application/json' } : {}),
    },
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
};

beforeAll(async () => {
  tg = await startTollgate({
    accounts: [
      { label: 'acme', tier: 'free' },
      { label: 'globex', tier: 'pro' },
    ],
    store: 'memory',
    env: { USAGE_FLUSH_MS: '100' },
  });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
});

test('search by name, id, key prefix and billing customer id, with usage against quota', async () => {
  const check = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
    headers: { 'x-api-key': tg.keys.acme!, 'x-original-uri': '/v1/chat/x', 'x-original-method': 'POST' },
  });
  expect(check.status).toBe(204);
  await expect
    .poll(async () => (await admin('/admin/accounts?q=acme')).json.accounts[0]?.units_this_period, {
      timeout: 30_000,
    })
    .toBe(5);
  const [hit] = (await admin('/admin/accounts?q=acme')).json.accounts;
  expect(hit).toMatchObject({ id: tg.accounts.acme, tier: 'free', quota: 100, status: 'active' });
  expect(hit.last_call_at).toMatch(/^\d{4}-/);
  expect(
    (await admin(`/admin/accounts?q=${tg.accounts.globex}`)).json.accounts.map((a: any) => a.id),
  ).toEqual([tg.accounts.globex]);
  const prefix = tg.keys.globex!.slice(0, 12);
  expect((await admin(`/admin/accounts?q=${prefix}`)).json.accounts.map((a: any) => a.id)).toEqual([
    tg.accounts.globex,
  ]);
  await sql.query(`update accounts set billing_customer_id = 'cus_console1' where id = $1`, [
    tg.accounts.acme,
  ]);
  expect((await admin('/admin/accounts?q=cus_console1')).json.accounts.map((a: any) => a.id)).toEqual([
    tg.accounts.acme,
  ]);
  expect((await admin('/admin/accounts?q=%25')).json.accounts).toEqual([]);
  expect((await admin('/admin/accounts?limit=0')).status).toBe(400);
});

test('usage per day by endpoint for the current and previous period', async () => {
  const { json } = await admin(`/admin/accounts/${tg.accounts.acme}/usage/daily`);
  expect(json.quota).toBe(100);
  expect(Date.parse(json.previous.end)).toBe(Date.parse(json.current.start));
  const today = new Date().toISOString().slice(0, 10);
  expect(json.days).toEqual([{ day: today, endpoint: 'chat', calls: 1, units: 5 }]);
  expect((await admin('/admin/accounts/nope/usage/daily')).status).toBe(404);
});

test("replica status is this replica's own state", async () => {
  const { json } = await admin('/admin/replica');
  expect(json.degraded).toBe(false);
  expect(json.flush_lag_seconds).toBeLessThan(30);
});

test('policy dry run: errors with path and line, nothing saved', async () => {
  const before = await sql.query('select count(*)::int as n from audit_log');
  const bad = 'tiers:\n  free:\n    limits:\n      - { name: m, limit: -1, window: 60s }\nendpoints: {}\n';
  const { status, json } = await admin('/admin/policy/validate', {
    method: 'POST',
    body: bad,
    type: 'application/yaml',
  });
  expect(status).toBe(200);
  expect(json.valid).toBe(false);
  expect(json.errors).toContainEqual(
    expect.objectContaining({ path: 'tiers.free.limits[0].limit', line: 4 }),
  );
  const broken = await admin('/admin/policy/validate', {
    method: 'POST',
    body: 'tiers: [\n',
    type: 'application/yaml',
  });
  expect(broken.json.errors[0].line).toBeGreaterThan(0);
  const good = await fetch(`http://127.0.0.1:${tg.adminPort}/admin/policy`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  const ok = await admin('/admin/policy/validate', {
    method: 'POST',
    body: await good.text(),
    type: 'application/yaml',
  });
  expect(ok.json).toEqual({ valid: true, errors: [] });
  expect(await sql.query('select count(*)::int as n from audit_log')).toEqual(before);
});

test('denials by reason over 24 h: counted in memory, flushed with usage', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
      headers: { 'x-api-key': tg.keys.globex!, 'x-original-uri': '/v1/export/x', 'x-original-method': 'GET' },
    });
    statuses.push(res.status);
  }
  const path = `/admin/accounts/${tg.accounts.acme}/denials`;
  expect((await admin(path)).json.reasons).toEqual([]);
  // A feature gate denial for acme (free: export blocked), counted once per call.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
      headers: { 'x-api-key': tg.keys.acme!, 'x-original-uri': '/v1/export/x', 'x-original-method': 'GET' },
    });
    expect(res.status).toBe(403);
  }
  await expect
    .poll(async () => (await admin(path)).json.reasons, { timeout: 30_000 })
    .toEqual([{ reason: expect.any(String), count: 3 }]);
  expect(statuses.every((s) => s === 204)).toBe(true);
  expect((await admin('/admin/accounts/nope/denials')).status).toBe(404);
});
