// Billing: an account's flushed usage by endpoint (table usage_monthly) for the period(s) starting in a range.

import type { Sql } from '../db/sql.js';

export interface EndpointUsage {
  endpoint: string;
  calls: number;
  /** Quota units (endpoint cost × calls). */
  units: number;
  /** Credits debited. */
  credits: number;
}

export interface UsageTotals {
  calls: number;
  units: number;
  credits: number;
}

/** Rows whose period_start is in [fromMs, toMs), summed per endpoint, by endpoint name. */
export async function readUsage(
  sql: Sql,
  accountId: string,
  fromMs: number,
  toMs: number,
): Promise<EndpointUsage[]> {
  return sql.query<EndpointUsage & Record<string, unknown>>(
    `select endpoint, coalesce(sum(calls), 0)::bigint as calls, coalesce(sum(units), 0)::bigint as units, coalesce(sum(credits), 0)::bigint as credits
       from usage_monthly
      where account_id = $1 and period_start >= $2::timestamptz and period_start < $3::timestamptz
      group by endpoint order by endpoint`,
    [accountId, new Date(fromMs), new Date(toMs)],
  );
}

export function usageTotals(rows: EndpointUsage[]): UsageTotals {
  return rows.reduce(
    (t, r) => ({ calls: t.calls + r.calls, units: t.units + r.units, credits: t.credits + r.credits }),
    { calls: 0, units: 0, credits: 0 },
  );
}
