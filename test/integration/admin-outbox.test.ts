// Admin API over the export outbox: failed rows kept for inspection, pending rows, a manual retry; export metrics exist.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;
const admin = (path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${tg.adminPort}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
  });

beforeAll(async () => {
  tg = await startTollgate({
    accounts: [{ label: 'a', tier: 'pro' }],
    store: 'memory',
    env: { EXPORT_MAX_ATTEMPTS: '3' },
  });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
});

test('GET /admin/outbox?state=failed|pending and POST /admin/outbox/{id}/retry', async () => {
  const [failed] = await sql.query<{ id: number }>(
    `insert into outbox (kind, account_id, payload, attempts, last_error) values ('usage', $1, '{"units":5}', 3, 'webhook answered 500') returning id`,
    [tg.accounts.a],
  );
  const [pending] = await sql.query<{ id: number }>(
    `insert into outbox (kind, account_id, payload, attempts, next_attempt_at) values ('usage', $1, '{"units":1}', 1, now() + interval '1 hour') returning id`,
    [tg.accounts.a],
  );
  const list = async (state: string) =>
    (
      (await (await admin(`/admin/outbox?state=${state}`)).json()) as {
        rows: Array<{ id: number; last_error: string | null; attempts: number }>;
      }
    ).rows;
  expect(await list('failed')).toEqual([
    expect.objectContaining({ id: failed!.id, attempts: 3, last_error: 'webhook answered 500' }),
  ]);
  expect((await list('pending')).map((r) => r.id)).toEqual([pending!.id]);
  expect((await admin('/admin/outbox?state=bogus')).status).toBe(400);
  const retry = await admin(`/admin/outbox/${failed!.id}/retry`, { method: 'POST' });
  expect(retry.status).toBe(200);
  expect(await list('failed')).toEqual([]);
  expect((await list('pending')).map((r) => r.id).sort()).toEqual([failed!.id, pending!.id].sort());
  expect((await admin('/admin/outbox/999999/retry', { method: 'POST' })).status).toBe(404);
  const audit = await sql.query<{ action: string }>(`select action from audit_log where target = $1`, [
    `outbox:${failed!.id}`,
  ]);
  expect(audit).toEqual([{ action: 'outbox.retry' }]);
});

test('the export metrics are on the registry', async () => {
  const text = await tg.app.metrics.registry.metrics();
  expect(text).toContain('tollgate_export_lag_seconds');
  expect(text).toContain('# TYPE tollgate_export_failures_total counter');
  expect(text).toContain('# TYPE tollgate_export_delivered_total counter');
});
