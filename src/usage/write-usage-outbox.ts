// Usage flushing → export: the `usage` outbox rows, written inside the flusher's transaction (one per batch and period).

import type { Sql } from '../db/sql.js';
import type { UsageBatch } from './usage-source.js';

/** The payload of a `usage` outbox row (JSON). Units are quota units; credits are credits debited. */
export interface UsagePayload {
  batch_id: string;
  period_start: string;
  calls: number;
  units: number;
  credits: number;
  endpoints: Record<string, { calls: number; units: number; credits: number }>;
}

/**
 * `tx` must be the transaction that writes the same batches' usage: the rows commit or roll back
 * with it, so export is exactly as complete as usage. Only call it for batches written now (not
 * replays), which the usage_batches primary key already told the caller.
 */
export async function writeUsageOutbox(tx: Sql, batches: UsageBatch[]): Promise<void> {
  const rows: Array<{ accountId: string; payload: UsagePayload }> = [];
  // A flush's batches fall in a handful of periods: each start is written out once.
  const starts = new Map<number, string>();
  const startOf = (ms: number) => {
    let iso = starts.get(ms);
    if (iso === undefined) starts.set(ms, (iso = new Date(ms).toISOString()));
    return iso;
  };
  for (const batch of batches) {
    const byPeriod = new Map<number, UsagePayload>();
    for (const row of batch.rows) {
      const p = byPeriod.get(row.periodStartMs) ?? {
        batch_id: batch.batchId,
        period_start: startOf(row.periodStartMs),
        calls: 0,
        units: 0,
        credits: 0,
        endpoints: {},
      };
      p.calls += row.calls;
      p.units += row.units;
      p.credits += row.credits;
      const e = (p.endpoints[row.endpoint] ??= { calls: 0, units: 0, credits: 0 });
      e.calls += row.calls;
      e.units += row.units;
      e.credits += row.credits;
      byPeriod.set(row.periodStartMs, p);
    }
    // A correction (negative counts, see uncount.lua) is exported too, so the export sums to the books.
    for (const payload of byPeriod.values())
      if (payload.calls !== 0 || payload.units !== 0) rows.push({ accountId: batch.accountId, payload });
  }
  if (rows.length === 0) return;
  // ONE json parameter: a payload's JSON inside a text[] was escaped again, quote by quote.
  await tx.query(
    `insert into outbox (kind, account_id, payload)
     select 'usage', t."accountId", t.payload from jsonb_to_recordset($1::text::jsonb) as t("accountId" text, payload jsonb)`,
    [JSON.stringify(rows)],
  );
}
