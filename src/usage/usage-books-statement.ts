// Usage flushing, Postgres side: ONE statement writes a slice of batches into every table of the books.
//
// The batch guard, usage_monthly, usage_daily, the credit ledger and the `usage` export rows, from one
// json parameter of usage rows, in one round trip. Each table used to be its own statement with its own
// json: a flush of 1,000 accounts sent Postgres about 530 kB, and writing it to the socket was the
// largest single cost of the flush in Node. The rows travel once now, and Postgres builds the export
// payloads itself.

import type { UsageBatch } from './usage-source.js';

/**
 * The payload of a `usage` outbox row (JSON), one per batch and period that counted calls or units.
 * Units are quota units; credits are credits debited. A correction (negative counts, uncount.lua) is
 * exported too, so the export sums to the books.
 */
export interface UsagePayload {
  batch_id: string;
  period_start: string;
  calls: number;
  units: number;
  credits: number;
  endpoints: Record<string, { calls: number; units: number; credits: number }>;
}

/**
 * The statement's parameter: one object per usage row, short names, and one `{b, a}` object for a
 * batch with no rows (its guard row is still written).
 */
export function usageBooksParam(batches: readonly UsageBatch[]): string {
  const rows: string[] = [];
  for (const { batchId, accountId, rows: usage } of batches) {
    const head = `{"b":${JSON.stringify(batchId)},"a":${JSON.stringify(accountId)}`;
    if (usage.length === 0) rows.push(`${head}}`);
    for (const r of usage)
      rows.push(
        `${head},"p":${r.periodStartMs},"e":${JSON.stringify(r.endpoint)},"c":${r.calls},"u":${r.units},"k":${r.credits}}`,
      );
  }
  return `[${rows.join(',')}]`;
}

const ms = (column: string) => `(timestamptz 'epoch' + ${column} * interval '1 millisecond')`;
const today = `(now() at time zone 'utc')::date`;

/**
 * $1 = usageBooksParam(batches). Answers the batch ids Postgres already had (replays, which are rare):
 * nothing of those is written again. Every other batch is written whole:
 * - a usage_batches row (its primary key is what makes a replay a no-op);
 * - usage_monthly and usage_daily (daily: the UTC day of the flush), added per (account, period,
 *   endpoint); usage_monthly also keeps when a flush last added to the row (the console's last
 *   call). A group with a negative part is a correction (uncount.lua took back a flushed call): its
 *   row exists, so it is added by UPDATE (an upsert would check `calls >= 0` on the row it would
 *   insert); usage_daily never goes below 0 (the chart is per flush day anyway);
 * - one credit_ledger row per batch that spent credits or gave some back (`usage:<batch id>` keeps it
 *   single even outside this guard);
 * - one `usage` outbox row per batch and period (UsagePayload), committed with the usage itself, so
 *   export is exactly as complete as usage.
 * Rows are written in sorted order in every replica (guard by batch id, books by row key), so two
 * flushes of overlapping accounts cannot deadlock. Each data-modifying part runs once, to completion.
 */
export const USAGE_BOOKS_STATEMENT = `
with given as (
  select * from jsonb_to_recordset($1::text::jsonb)
    as t(b text, a text, p bigint, e text, c bigint, u bigint, k bigint)
),
fresh as (
  insert into usage_batches (batch_id, account_id)
  select distinct b, a from given order by b
  on conflict (batch_id) do nothing
  returning batch_id
),
kept as (select g.* from given g join fresh f on f.batch_id = g.b where g.e is not null),
monthly as (
  select a, p, e, sum(c) as c, sum(u) as u, sum(k) as k from kept group by a, p, e
),
monthly_added as (
  insert into usage_monthly (account_id, period_start, endpoint, calls, units, credits, last_flushed_at)
  select a, ${ms('p')}, e, c, u, k, now() from monthly where c >= 0 and u >= 0 and k >= 0 order by a, p, e
  on conflict (account_id, period_start, endpoint) do update
    set calls = usage_monthly.calls + excluded.calls, units = usage_monthly.units + excluded.units,
        credits = usage_monthly.credits + excluded.credits, last_flushed_at = excluded.last_flushed_at
),
monthly_corrected as (
  update usage_monthly m
     set calls = m.calls + t.c, units = m.units + t.u, credits = m.credits + t.k, last_flushed_at = now()
    from (select * from monthly where c < 0 or u < 0 or k < 0 order by a, p, e) t
   where m.account_id = t.a and m.period_start = ${ms('t.p')} and m.endpoint = t.e
),
daily as (select a, e, sum(c) as c, sum(u) as u from kept group by a, e),
daily_added as (
  insert into usage_daily (account_id, day, endpoint, calls, units)
  select a, ${today}, e, c, u from daily where c >= 0 and u >= 0 order by a, e
  on conflict (account_id, day, endpoint) do update
    set calls = usage_daily.calls + excluded.calls, units = usage_daily.units + excluded.units
),
daily_corrected as (
  update usage_daily d set calls = greatest(0, d.calls + t.c), units = greatest(0, d.units + t.u)
    from (select * from daily where c < 0 or u < 0 order by a, e) t
   where d.account_id = t.a and d.endpoint = t.e and d.day = ${today}
),
debited as (
  insert into credit_ledger (account_id, delta, reason, idempotency_key)
  select a, -sum(k), 'usage', 'usage:' || b from kept where k <> 0 group by b, a having sum(k) <> 0 order by b
  on conflict (idempotency_key) do nothing
),
per_endpoint as (
  select b, a, p, e, sum(c) as c, sum(u) as u, sum(k) as k from kept group by b, a, p, e
),
exported as (
  insert into outbox (kind, account_id, payload)
  select 'usage', a, jsonb_build_object(
           'batch_id', b,
           'period_start', to_char(${ms('p')} at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'calls', sum(c), 'units', sum(u), 'credits', sum(k),
           'endpoints', jsonb_object_agg(e, jsonb_build_object('calls', c, 'units', u, 'credits', k)))
    from per_endpoint group by b, a, p having sum(c) <> 0 or sum(u) <> 0 order by b, p
)
select distinct b as batch_id from given g where not exists (select 1 from fresh f where f.batch_id = g.b)`;
