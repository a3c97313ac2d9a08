// The usage flush's Postgres side, one statement per slice of batches: the same bodies on Postgres and PGlite.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { searchAccounts } from '../../src/accounts/search-accounts.js';
import { createAccount } from '../../src/accounts/create-account.js';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import type { UsageBatch } from '../../src/usage/usage-source.js';
import { writeUsageBatches } from '../../src/usage/write-usage-batches.js';

const POLICY = parsePolicy(`
tiers:
  pro:
    quota: { requests: 100, period: month }
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat }
`);

const NOV = Date.UTC(2026, 10, 1);
const DEC = Date.UTC(2026, 11, 1);
const row = (periodStartMs: number, endpoint: string, calls: number, units: number, credits: number) => ({
  periodStartMs,
  endpoint,
  calls,
  units,
  credits,
});

export function usageBooksContract(label: string, open: () => Promise<{ sql: Sql; close(): Promise<void> }>) {
  describe(`usage books: ${label}`, () => {
    let sql: Sql;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ sql, close } = await open());
      await migrate(sql);
      await savePolicy(sql, POLICY);
    });
    afterAll(async () => close?.());

    const books = async (accountId: string) => ({
      monthly: await sql.query(
        `select to_char(period_start at time zone 'utc', 'MM') as month, endpoint, calls::int, units::int,
                credits::int, last_flushed_at is not null as stamped
           from usage_monthly where account_id = $1 order by period_start, endpoint`,
        [accountId],
      ),
      daily: await sql.query(
        'select endpoint, calls::int, units::int from usage_daily where account_id = $1 order by endpoint',
        [accountId],
      ),
      ledger: await sql.query(
        `select delta::int, idempotency_key from credit_ledger where account_id = $1 and reason = 'usage' order by id`,
        [accountId],
      ),
      outbox: (
        await sql.query<{ payload: unknown }>(
          `select payload from outbox where account_id = $1 and kind = 'usage' order by id`,
          [accountId],
        )
      ).map((r) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload)),
    });

    test('one call writes every table; a replay beside new batches writes only the new ones', async () => {
      const { id } = await createAccount(sql, { name: 'books', tier: 'pro' });
      const { id: other } = await createAccount(sql, { name: 'idle', tier: 'pro' });
      const first: UsageBatch = {
        batchId: 'books-1',
        accountId: id,
        rows: [row(NOV, 'chat', 2, 2, 0), row(DEC, 'chat', 3, 6, 4), row(DEC, 'search', 1, 1, 1)],
      };
      // A batch whose counts netted out: guarded, nothing else written.
      const empty: UsageBatch = { batchId: 'books-0', accountId: other, rows: [] };
      expect(await writeUsageBatches(sql, [first, empty])).toEqual(['books-0', 'books-1']);

      const second: UsageBatch = { batchId: 'books-2', accountId: id, rows: [row(DEC, 'chat', 1, 2, 0)] };
      // The first batch again (its replica died before the ack), beside a new one: no part counted twice.
      expect(await writeUsageBatches(sql, [second, first], { thresholds: [0.5] })).toEqual([
        'books-1',
        'books-2',
      ]);

      const after = await books(id);
      expect(after.monthly).toEqual([
        { month: '11', endpoint: 'chat', calls: 2, units: 2, credits: 0, stamped: true },
        { month: '12', endpoint: 'chat', calls: 4, units: 8, credits: 4, stamped: true },
        { month: '12', endpoint: 'search', calls: 1, units: 1, credits: 1, stamped: true },
      ]);
      // Per flush day: both periods of `chat` land on today's row.
      expect(after.daily).toEqual([
        { endpoint: 'chat', calls: 6, units: 10 },
        { endpoint: 'search', calls: 1, units: 1 },
      ]);
      expect(after.ledger).toEqual([{ delta: -5, idempotency_key: 'usage:books-1' }]);
      expect(after.outbox).toEqual([
        {
          batch_id: 'books-1',
          period_start: '2026-11-01T00:00:00.000Z',
          calls: 2,
          units: 2,
          credits: 0,
          endpoints: { chat: { calls: 2, units: 2, credits: 0 } },
        },
        {
          batch_id: 'books-1',
          period_start: '2026-12-01T00:00:00.000Z',
          calls: 4,
          units: 7,
          credits: 5,
          endpoints: { chat: { calls: 3, units: 6, credits: 4 }, search: { calls: 1, units: 1, credits: 1 } },
        },
        {
          batch_id: 'books-2',
          period_start: '2026-12-01T00:00:00.000Z',
          calls: 1,
          units: 2,
          credits: 0,
          endpoints: { chat: { calls: 1, units: 2, credits: 0 } },
        },
      ]);
      expect(await books(other)).toEqual({ monthly: [], daily: [], ledger: [], outbox: [] });
      expect(await sql.query('select batch_id from usage_batches order by batch_id')).toEqual([
        { batch_id: 'books-0' },
        { batch_id: 'books-1' },
        { batch_id: 'books-2' },
      ]);
      // The console's last call comes from the usage rows.
      const [hit] = await searchAccounts(sql, id, 1);
      expect(hit?.lastCallAt).toBeInstanceOf(Date);
      expect((await searchAccounts(sql, other, 1))[0]?.lastCallAt).toBeNull();
    });

    test('a correction beside new usage: taken off its rows, credits given back, exported negative', async () => {
      const { id } = await createAccount(sql, { name: 'corrected', tier: 'pro' });
      await writeUsageBatches(sql, [{ batchId: 'fix-1', accountId: id, rows: [row(DEC, 'chat', 3, 3, 3)] }]);
      const correction: UsageBatch = {
        batchId: 'fix-2',
        accountId: id,
        rows: [row(DEC, 'chat', -1, -1, -1)],
      };
      const more: UsageBatch = { batchId: 'fix-3', accountId: id, rows: [row(DEC, 'search', 2, 2, 0)] };
      expect(await writeUsageBatches(sql, [more, correction])).toEqual(['fix-2', 'fix-3']);
      expect(await writeUsageBatches(sql, [correction])).toEqual(['fix-2']);

      const after = await books(id);
      expect(after.monthly).toEqual([
        { month: '12', endpoint: 'chat', calls: 2, units: 2, credits: 2, stamped: true },
        { month: '12', endpoint: 'search', calls: 2, units: 2, credits: 0, stamped: true },
      ]);
      expect(after.daily).toEqual([
        { endpoint: 'chat', calls: 2, units: 2 },
        { endpoint: 'search', calls: 2, units: 2 },
      ]);
      expect(after.ledger).toEqual([
        { delta: -3, idempotency_key: 'usage:fix-1' },
        { delta: 1, idempotency_key: 'usage:fix-2' },
      ]);
      expect(
        after.outbox.map((p: { batch_id: string; calls: number; credits: number }) => [
          p.batch_id,
          p.calls,
          p.credits,
        ]),
      ).toEqual([
        ['fix-1', 3, 3],
        ['fix-2', -1, -1],
        ['fix-3', 2, 0],
      ]);
    });
  });
}
