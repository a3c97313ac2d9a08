// Billing: `2026-11` ↔ the account's billing period that starts in that month (UTC, anchor day aware).

import { billingPeriod, type BillingPeriod } from './billing-period.js';
import { InputError } from '../errors.js';

export const MONTH_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])$';
const MONTH = new RegExp(MONTH_PATTERN);

export interface BillingMonth {
  /** `YYYY-MM` */
  month: string;
  /** The account's period that starts in this month: [startMs, endMs). */
  period: BillingPeriod;
  /** The calendar month [fromMs, toMs): usage rows whose period_start falls in it belong to this month. */
  fromMs: number;
  toMs: number;
}

/** `month` undefined = the month in which the current period started. InputError (path `field`) on a bad month. */
export function billingMonth(
  month: string | undefined,
  anchorDay: number,
  nowMs: number,
  field = 'month',
): BillingMonth {
  let year: number;
  let index: number;
  if (month === undefined) {
    const start = new Date(billingPeriod(nowMs, anchorDay).startMs);
    [year, index] = [start.getUTCFullYear(), start.getUTCMonth()];
  } else {
    if (!MONTH.test(month))
      throw new InputError([{ path: field, message: `expected a month like 2026-11 but got "${month}"` }]);
    [year, index] = [Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1];
  }
  const lastDay = new Date(Date.UTC(year, index + 1, 0)).getUTCDate();
  const period = billingPeriod(Date.UTC(year, index, Math.min(anchorDay, lastDay)), anchorDay);
  return {
    month: `${String(year).padStart(4, '0')}-${String(index + 1).padStart(2, '0')}`,
    period,
    fromMs: Date.UTC(year, index, 1),
    toMs: Date.UTC(year, index + 1, 1),
  };
}
