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
  const sums = [...byKey.values()];
  if (sums.length === 0) return;
  await tx.query(
    `insert into usage_daily (account_id, day, endpoint, calls, units)
     select a, (now() at time zone 'utc')::date, e, c::bigint, u::bigint
       from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as t(a, e, c, u)
     on conflict (account_id, day, endpoint) do update
       set calls = usage_daily.calls + excluded.calls, units = usage_daily.units + excluded.units`,
    [
      sums.map((s) => s.accountId),
      sums.map((s) => s.endpoint),
      sums.map((s) => String(s.calls)),
      sums.map((s) => String(s.units)),
    ],
  );
}
