// Usage flushing → quota-threshold events: crossings detected where usage lands in Postgres, inside the
// flusher's transaction. The quota_events primary key (account, period, threshold) keeps each event
// single however many replicas flush the crossing; a per-account transaction lock makes the usage sum
// each flush reads include every flush committed before it, so concurrent flushes cannot both miss it.

import type { Sql } from '../db/sql.js';
import { billingPeriod } from '../billing/billing-period.js';

/** Payload of a `quota.threshold` outbox row (JSON). */
export interface QuotaThresholdPayload {
  account_id: string;
  tier: string;
  threshold: number;
  usage: number;
  quota: number;
  period_start: string;
  period_end: string;
  upgrade_url: string | null;
}

/**
 * Call first in the transaction (before the usage is added): takes the per-account locks, in sorted
 * order so two flushes cannot deadlock. Released at commit.
 */
export async function lockAccountsForThresholds(tx: Sql, accountIds: string[]): Promise<void> {
  const ids = [...new Set(accountIds)].sort();
  if (ids.length === 0) return;
  await tx.query(
    `select count(pg_advisory_xact_lock(hashtext('tollgate-quota'), hashtext(a))) from (select a from unnest($1::text[]) as t(a) order by a) s`,
    [ids],
  );
}

/** After the usage was added: one quota_events row + one outbox row per threshold crossed for the first time. */
export async function detectQuotaThresholds(
  tx: Sql,
  pairs: Array<{ accountId: string; periodStartMs: number }>,
  thresholds: readonly number[],
): Promise<void> {
  if (pairs.length === 0 || thresholds.length === 0) return;
  const rows = await tx.query<{
    account_id: string;
    tier: string;
    quota: number;
    upgrade_url: string | null;
    anchor: number;
    period_ms: string;
    units: number;
  }>(
    `select a.id as account_id, a.tier, t.quota_units as quota, t.upgrade_url, a.billing_anchor_day as anchor, p.ms as period_ms,
            coalesce((select sum(u.units) from usage_monthly u
                       where u.account_id = a.id and u.period_start = timestamptz 'epoch' + p.ms::bigint * interval '1 millisecond'), 0)::bigint as units
       from unnest($1::text[], $2::text[]) as p(a, ms) join accounts a on a.id = p.a join tiers t on t.name = a.tier
      where t.quota_units is not null and t.quota_units > 0`,
    [pairs.map((p) => p.accountId), pairs.map((p) => String(p.periodStartMs))],
  );
  for (const row of rows) {
    const periodStartMs = Number(row.period_ms);
    for (const threshold of thresholds) {
      if (row.units < threshold * row.quota) continue;
      const fresh = await tx.query(
        `insert into quota_events (account_id, period_start, threshold, units, quota)
         values ($1, timestamptz 'epoch' + $2::bigint * interval '1 millisecond', $3::numeric, $4::bigint, $5::bigint)
         on conflict do nothing returning 1`,
        [row.account_id, String(periodStartMs), String(threshold), String(row.units), String(row.quota)],
      );
      if (fresh.length === 0) continue;
      const payload: QuotaThresholdPayload = {
        account_id: row.account_id,
        tier: row.tier,
        threshold,
        usage: Number(row.units),
        quota: Number(row.quota),
        period_start: new Date(periodStartMs).toISOString(),
        period_end: new Date(billingPeriod(periodStartMs, row.anchor).endMs).toISOString(),
        upgrade_url: row.upgrade_url,
      };
      await tx.query(
        `insert into outbox (kind, account_id, payload) values ('quota.threshold', $1, $2::text::jsonb)`,
        [row.account_id, JSON.stringify(payload)],
      );
    }
  }
}
