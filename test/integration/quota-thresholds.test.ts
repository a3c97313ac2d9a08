// Quota-threshold events: exactly one per (account, period, threshold), however many flushes or replicas
// see the crossing at once. Real Postgres (concurrent transactions) and real replicas on the shared Redis.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { writeUsageBatches } from '../../src/usage/write-usage-batches.js';
import { deleteAccountKeys } from '../support/redis-keys.js';
import { prepareDatabase, REDIS_URL, startTollgate, type PreparedDatabase } from '../support/tollgate.js';

const POLICY = `
tiers:
  trial:
    limits: [{ name: big, algorithm: fixed_window, limit: 100000, window: 60s }]
    quota: { requests: 100, period: month }
    upgrade_url: https://example.com/upgrade
  small:
    limits: [{ name: big, algorithm: fixed_window, limit: 100000, window: 60s }]
    quota: { requests: 10, period: month }
    upgrade_url: https://example.com/small-upgrade
endpoints:
  chat:
    match: { path: /v1/chat/** }
    cost: 1
`;
const THRESHOLDS = [0.8, 1];
const PERIOD = Date.UTC(2026, 2, 1);
const ACCOUNTS = 20;

let db: PreparedDatabase;
const pools: PostgresSql[] = [];

beforeAll(async () => {
  db = await prepareDatabase({
    policyYaml: POLICY,
    accounts: [
      ...Array.from({ length: ACCOUNTS }, (_, i) => ({ label: `t${i}`, tier: 'trial' })),
      { label: 'replicas', tier: 'small' },
    ],
  });
  pools.push(new PostgresSql(db.url), new PostgresSql(db.url));
});
afterAll(async () => {
  for (const pool of pools) await pool.close();
  await db.drop();
});

const batch = (accountId: string, id: string, units: number) => ({
  batchId: id,
  accountId,
  rows: [{ periodStartMs: PERIOD, endpoint: 'chat', calls: units, units, credits: 0 }],
});

async function events(accountId: string) {
  return pools[0]!.query<{ threshold: number; units: number }>(
    'select threshold, units from quota_events where account_id = $1 order by threshold',
    [accountId],
  );
}

describe('quota-threshold events', () => {
  test('two flushes committing at the same moment: one event per threshold, even when neither alone crosses', async () => {
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => db.accounts[`t${i}`]!);
    // 45 + 45 = 90 units ≥ 80 % of 100: only the sum crosses; both transactions run concurrently.
    await Promise.all(
      ids.flatMap((id) => [
        writeUsageBatches(pools[0]!, [batch(id, `${id}-a`, 45)], { thresholds: THRESHOLDS }),
        writeUsageBatches(pools[1]!, [batch(id, `${id}-b`, 45)], { thresholds: THRESHOLDS }),
      ]),
    );
    for (const id of ids) expect(await events(id)).toEqual([{ threshold: 0.8, units: 90 }]);
    // Both cross 100 % alone now (60 each): still one event.
    await Promise.all(
      ids.flatMap((id) => [
        writeUsageBatches(pools[0]!, [batch(id, `${id}-c`, 60)], { thresholds: THRESHOLDS }),
        writeUsageBatches(pools[1]!, [batch(id, `${id}-d`, 60)], { thresholds: THRESHOLDS }),
      ]),
    );
    for (const id of ids) expect((await events(id)).map((e) => e.threshold)).toEqual([0.8, 1]);
    const outbox = await pools[0]!.query<{ account_id: string; payload: Record<string, unknown> }>(
      `select account_id, payload from outbox where kind = 'quota.threshold' and account_id = $1 order by id`,
      [ids[0]],
    );
    expect(outbox.map((r) => r.payload)).toEqual([
      {
        account_id: ids[0],
        tier: 'trial',
        threshold: 0.8,
        usage: 90,
        quota: 100,
        period_start: '2026-03-01T00:00:00.000Z',
        period_end: '2026-04-01T00:00:00.000Z',
        upgrade_url: 'https://example.com/upgrade',
      },
      expect.objectContaining({ threshold: 1, quota: 100, upgrade_url: 'https://example.com/upgrade' }),
    ]);
    const [{ n }] = (await pools[0]!.query<{ n: number }>(
      `select count(*)::int as n from outbox where kind = 'quota.threshold'`,
    )) as [{ n: number }];
    expect(n).toBe(2 * ACCOUNTS);
  });

  test('two replicas crossing 80 % at the same moment emit exactly one event', async () => {
    const id = db.accounts.replicas!;
    const key = db.keys.replicas!;
    const env = { USAGE_FLUSH_MS: '50', QUOTA_THRESHOLDS: '0.8,1.0' };
    const [a, b] = [
      await startTollgate({ accounts: [], database: db, env }),
      await startTollgate({ accounts: [], database: db, env }),
    ];
    const redis = new Redis(REDIS_URL);
    try {
      const call = (port: number) =>
        fetch(`http://127.0.0.1:${port}/check`, {
          headers: { 'x-api-key': key, 'x-original-uri': '/v1/chat/x', 'x-original-method': 'POST' },
        }).then((r) => r.status);
      // 8 of 10 units, four on each replica at once: both flushers run every 50 ms.
      const statuses = await Promise.all([0, 1, 2, 3].flatMap(() => [call(a.httpPort), call(b.httpPort)]));
      expect(statuses).toEqual(Array(8).fill(204)); // nginx auth_request: 204 = allowed
      const deadline = Date.now() + 10_000;
      while ((await events(id)).length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // more flushes of both replicas: still one
      expect(await events(id)).toEqual([{ threshold: 0.8, units: 8 }]);
      const rows = await pools[0]!.query<{ payload: Record<string, unknown> }>(
        `select payload from outbox where kind = 'quota.threshold' and account_id = $1`,
        [id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.payload).toMatchObject({
        tier: 'small',
        usage: 8,
        quota: 10,
        threshold: 0.8,
        upgrade_url: 'https://example.com/small-upgrade',
      });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await deleteAccountKeys(redis, [id]);
      redis.disconnect();
    }
  });
});
