// Counters: the monthly quota period (UTC) that contains a moment; decide.lua mirrors this arithmetic.

const DAY_MS = 86_400_000;

export interface BillingPeriod {
  /** Inclusive, ms since the epoch: 00:00 UTC on the anchor day. */
  startMs: number;
  /** Exclusive, ms since the epoch: the next period's start. */
  endMs: number;
}

/** The period start in month `month` (0-based, may overflow into the next/previous year), in ms. */
function anchorIn(year: number, month: number, anchorDay: number): number {
  // Day 0 of the following month is this month's last day.
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(anchorDay, lastDay));
}

/**
 * The billing period containing `nowMs`. anchorDay 1 = calendar month; a day past a month's end
 * means that month's last day (anchor 31 → Feb 28/29, and the next period starts on March 31).
 */
export function billingPeriod(nowMs: number, anchorDay: number): BillingPeriod {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 31) {
    throw new Error(`anchorDay must be an integer 1..31, got ${anchorDay}`);
  }
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const date = new Date(today);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const start = anchorIn(year, month, anchorDay);
  if (today >= start) return { startMs: start, endMs: anchorIn(year, month + 1, anchorDay) };
  return { startMs: anchorIn(year, month - 1, anchorDay), endMs: start };
}
