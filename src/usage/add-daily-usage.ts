// Usage flushing, Postgres side: the per-day copy (usage_daily) of what one flush adds, for the console's chart.

import type { Sql } from '../db/sql.js';

interface Added {
  accountId: string;
  endpoint: string;
  calls: number;
  units: number;
}

/** Adds `rows` to today's (UTC, at the flush) usage_daily rows, inside the flush's own transaction. */
export async function addDailyUsage(tx: Sql, rows: readonly Added[]): Promise<void> {
  // One row per (account, endpoint): a flush may carry two periods of one endpoint around a period change.
  const byKey = new Map<string, Added>();
  for (const row of rows) {
    const key = `${row.accountId}\n${row.endpoint}`;
    const sum = byKey.get(key) ?? { accountId: row.accountId, endpoint: row.endpoint, calls: 0, units: 0 };
    sum.calls += row.calls;
    sum.units += row.units;
    byKey.set(key, sum);
  }
  const all = [...byKey.values()];
  // A correction (a decision taken back after a late reply, redis-counter-store.ts) is negative: it is
  // taken off today's row if there is one, never below 0. The chart is per flush day anyway.
  const sums = all.filter((s) => s.calls >= 0 && s.units >= 0);
  const corrections = all.filter((s) => s.calls < 0 || s.units < 0);
  if (sums.length > 0) await upsert(tx, sums);
  if (corrections.length > 0) await subtract(tx, corrections);
}

// ONE json parameter, not four text[] arrays (see addUsage in write-usage-batches.ts).
const source = `jsonb_to_recordset($1::text::jsonb) as t("accountId" text, endpoint text, calls bigint, units bigint)`;

async function upsert(tx: Sql, sums: readonly Added[]): Promise<void> {
  await tx.query(
    `insert into usage_daily (account_id, day, endpoint, calls, units)
     select t."accountId", (now() at time zone 'utc')::date, t.endpoint, t.calls, t.units
       from ${source}
     on conflict (account_id, day, endpoint) do update
       set calls = usage_daily.calls + excluded.calls, units = usage_daily.units + excluded.units`,
    [JSON.stringify(sums)],
  );
}

async function subtract(tx: Sql, corrections: readonly Added[]): Promise<void> {
  await tx.query(
    `update usage_daily d
        set calls = greatest(0, d.calls + t.calls), units = greatest(0, d.units + t.units)
       from ${source}
      where d.account_id = t."accountId" and d.endpoint = t.endpoint and d.day = (now() at time zone 'utc')::date`,
    [JSON.stringify(corrections)],
  );
}
