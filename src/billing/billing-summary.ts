// Billing: one account's month — plan price, included quota, units used, billable overage, credits spent.
//
// Overage is billed pro rata: overage_units × overage_per_1000 / 1000, rounded half-up to the cent
// (not per started block of 1000), and only on a soft-gated tier (`overage: allow`); a hard gate never
// lets usage past the quota. The tier is the account's tier now: tier changes within a month are not
// prorated. Amounts are decimal numbers in the tier's currency, computed in integer cents.
//
// Billing starts with the account: a period that ends before the account was created bills nothing;
// the period it was created in is billed in full or prorated by the days it existed in it, as the
// tier's `price.first_month` says (planPriceBasis and billedDays state which).

import type { Sql } from '../db/sql.js';
import type { Tier } from '../policy/policy.js';
import { billingMonth } from './billing-month.js';
import { readUsage, usageTotals, type EndpointUsage } from './usage-report.js';

export interface BillingSummary {
  accountId: string;
  month: string;
  period: { start: Date; end: Date };
  tier: string;
  /** null when the tier has no price. */
  currency: string | null;
  planPrice: number | null;
  /** Why planPrice is what it is: the whole period, the first period (full or prorated), or before the account. */
  planPriceBasis: 'period' | 'first_month_full' | 'first_month_prorated' | 'before_account';
  /** Days of the period the plan price covers, of periodDays (UTC days; the creation day counts). */
  billedDays: number;
  periodDays: number;
  /** null = unlimited. */
  includedUnits: number | null;
  calls: number;
  unitsUsed: number;
  overageUnits: number;
  overagePer1000: number | null;
  overageAmount: number | null;
  creditsSpent: number;
  /** planPrice + overageAmount; null when the tier has no price. */
  total: number | null;
  endpoints: EndpointUsage[];
}

export interface BillingAccount {
  id: string;
  tier: string;
  billingAnchorDay: number;
  createdAt: Date;
}

export async function billingSummary(
  sql: Sql,
  account: BillingAccount,
  tier: Tier | undefined,
  month: string | undefined,
  nowMs = Date.now(),
): Promise<BillingSummary> {
  const range = billingMonth(month, account.billingAnchorDay, nowMs);
  const endpoints = await readUsage(sql, account.id, range.fromMs, range.toMs);
  const totals = usageTotals(endpoints);
  const quota = tier?.quota ?? null;
  const overageUnits = quota?.overage ? Math.max(0, totals.units - quota.units) : 0;
  const price = tier?.price;
  const overageCents = price ? overageAmountCents(overageUnits, price.overagePer1000) : null;
  const first = firstPeriod(range.period, account.createdAt, price?.firstMonth ?? 'full');
  const priceCents = price ? prorate(toCents(price.monthly), first.billedDays, first.periodDays) : null;
  return {
    accountId: account.id,
    month: range.month,
    period: { start: new Date(range.period.startMs), end: new Date(range.period.endMs) },
    tier: account.tier,
    currency: price?.currency ?? null,
    planPrice: priceCents === null ? null : priceCents / 100,
    ...first,
    includedUnits: quota ? quota.units : null,
    calls: totals.calls,
    unitsUsed: totals.units,
    overageUnits,
    overagePer1000: price ? price.overagePer1000 : null,
    overageAmount: overageCents === null ? null : overageCents / 100,
    creditsSpent: totals.credits,
    total: priceCents === null || overageCents === null ? null : (priceCents + overageCents) / 100,
    endpoints,
  };
}

/** units × per1000 / 1000 in cents, half-up; exact for prices with up to 4 decimals (the column's scale). */
export function overageAmountCents(units: number, per1000: number): number {
  const tenThousandths = BigInt(Math.round(per1000 * 10_000));
  return Number((BigInt(units) * tenThousandths + 50_000n) / 100_000n);
}

const DAY_MS = 86_400_000;

/** How much of the period the account existed in, and so how much of the plan price it owes. */
function firstPeriod(
  period: { startMs: number; endMs: number },
  createdAt: Date,
  firstMonth: 'full' | 'prorated',
): Pick<BillingSummary, 'planPriceBasis' | 'billedDays' | 'periodDays'> {
  const periodDays = Math.round((period.endMs - period.startMs) / DAY_MS);
  const created = createdAt.getTime();
  if (created >= period.endMs) return { planPriceBasis: 'before_account', billedDays: 0, periodDays };
  if (created < period.startMs) return { planPriceBasis: 'period', billedDays: periodDays, periodDays };
  if (firstMonth === 'full')
    return { planPriceBasis: 'first_month_full', billedDays: periodDays, periodDays };
  const creationDay = Math.floor(created / DAY_MS) * DAY_MS;
  const billedDays = Math.round((period.endMs - creationDay) / DAY_MS);
  return { planPriceBasis: 'first_month_prorated', billedDays, periodDays };
}

/** cents × days / periodDays, half-up. */
function prorate(cents: number, days: number, periodDays: number): number {
  return days === periodDays ? cents : Math.floor((cents * days * 2 + periodDays) / (periodDays * 2));
}

function toCents(amount: number): number {
  return Math.round(amount * 100);
}
