// Support reads (admin API → console): find accounts by id, name, key prefix or billing customer id, with usage and credits.

import type { Sql } from '../db/sql.js';

export interface AccountHit {
  id: string;
  name: string;
  tier: string;
  status: string;
  billingAnchorDay: number;
  billingCustomerId: string | null;
  creditBalance: number;
  /** Units of the latest flushed period, and that period's start (the caller compares it to the current one). */
  latestPeriodStart: Date | null;
  latestPeriodUnits: number;
  /** When usage of this account was last flushed (the last call, to within one flush interval). */
  lastCallAt: Date | null;
}

/** `query` empty = the newest accounts. Matches: id exact, name substring, key prefix, billing customer id exact. */
export async function searchAccounts(sql: Sql, query: string, limit: number): Promise<AccountHit[]> {
  const like = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const prefix = `${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await sql.query(
    `select a.id, a.name, a.tier, a.status, a.billing_anchor_day, a.billing_customer_id,
            (select coalesce(sum(delta), 0) from credit_ledger l where l.account_id = a.id) as credit_balance,
            (select max(last_flushed_at) from usage_monthly m where m.account_id = a.id) as last_call_at,
            u.period_start, coalesce(u.units, 0) as units
       from accounts a
       left join lateral (
         select period_start, sum(units) as units from usage_monthly m where m.account_id = a.id
          group by period_start order by period_start desc limit 1) u on true
      where $1 = '' or a.id = $1 or a.name ilike $2 or a.billing_customer_id = $1
         or exists (select 1 from api_keys k where k.account_id = a.id and k.prefix like $3)
      order by a.created_at desc, a.id limit $4::int`,
    [query, like, prefix, limit],
  );
  return rows.map((row) => ({
    id: row.id as string,
    name: row.name as string,
    tier: row.tier as string,
    status: row.status as string,
    billingAnchorDay: row.billing_anchor_day as number,
    billingCustomerId: row.billing_customer_id as string | null,
    creditBalance: Number(row.credit_balance),
    latestPeriodStart: row.period_start ? new Date(row.period_start as string | Date) : null,
    latestPeriodUnits: Number(row.units),
    lastCallAt: row.last_call_at ? new Date(row.last_call_at as string | Date) : null,
  }));
}

export interface DailyUsage {
  day: string;
  endpoint: string;
  calls: number;
  units: number;
}

/** usage_daily rows of one account in [fromMs, toMs), oldest first. */
export async function dailyUsage(sql: Sql, accountId: string, fromMs: number, toMs: number) {
  const rows = await sql.query(
    `select to_char(day, 'YYYY-MM-DD') as day, endpoint, calls, units from usage_daily
      where account_id = $1 and day >= $2::date and day < $3::date order by day, endpoint`,
    [accountId, new Date(fromMs).toISOString().slice(0, 10), new Date(toMs).toISOString().slice(0, 10)],
  );
  return rows.map(
    (r): DailyUsage => ({
      day: r.day as string,
      endpoint: r.endpoint as string,
      calls: Number(r.calls),
      units: Number(r.units),
    }),
  );
}
