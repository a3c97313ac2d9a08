// The quota period arithmetic (UTC, anchor day capped at the month's end) against a day-by-day reference.

import { describe, expect, test } from 'vitest';
import { billingPeriod } from '../../src/billing/billing-period.js';

const DAY = 86_400_000;
const utc = (y: number, m: number, d: number, ms = 0) => Date.UTC(y, m - 1, d) + ms;

/** Reference: walk day by day; a day starts a period when it is min(anchor, last day of its month). */
function walk(nowMs: number, anchorDay: number): { startMs: number; endMs: number } {
  const isStart = (dayMs: number) => {
    const d = new Date(dayMs);
    const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    return d.getUTCDate() === Math.min(anchorDay, last);
  };
  let start = Math.floor(nowMs / DAY) * DAY;
  while (!isStart(start)) start -= DAY;
  let end = start + DAY;
  while (!isStart(end)) end += DAY;
  return { startMs: start, endMs: end };
}

describe('billingPeriod', () => {
  test('anchor 1 is the calendar month; the boundary ms belongs to the new period', () => {
    expect(billingPeriod(utc(2024, 3, 15, 5), 1)).toEqual({
      startMs: utc(2024, 3, 1),
      endMs: utc(2024, 4, 1),
    });
    expect(billingPeriod(utc(2024, 4, 1) - 1, 1)).toEqual({
      startMs: utc(2024, 3, 1),
      endMs: utc(2024, 4, 1),
    });
    expect(billingPeriod(utc(2024, 4, 1), 1)).toEqual({ startMs: utc(2024, 4, 1), endMs: utc(2024, 5, 1) });
    expect(billingPeriod(utc(2024, 12, 31, DAY - 1), 1)).toEqual({
      startMs: utc(2024, 12, 1),
      endMs: utc(2025, 1, 1),
    });
  });

  test('an anchor past the month end means its last day: 31 → Feb 29 (leap) / Feb 28, then Mar 31', () => {
    expect(billingPeriod(utc(2024, 2, 28, 5), 31)).toEqual({
      startMs: utc(2024, 1, 31),
      endMs: utc(2024, 2, 29),
    });
    expect(billingPeriod(utc(2024, 2, 29), 31)).toEqual({
      startMs: utc(2024, 2, 29),
      endMs: utc(2024, 3, 31),
    });
    expect(billingPeriod(utc(2023, 2, 28), 31)).toEqual({
      startMs: utc(2023, 2, 28),
      endMs: utc(2023, 3, 31),
    });
    expect(billingPeriod(utc(2023, 4, 30, 7), 31)).toEqual({
      startMs: utc(2023, 4, 30),
      endMs: utc(2023, 5, 31),
    });
    expect(billingPeriod(utc(2023, 3, 30), 30)).toEqual({
      startMs: utc(2023, 3, 30),
      endMs: utc(2023, 4, 30),
    });
    expect(billingPeriod(utc(2023, 3, 29), 30)).toEqual({
      startMs: utc(2023, 2, 28),
      endMs: utc(2023, 3, 30),
    });
  });

  test('anchor 15 and the year boundary', () => {
    expect(billingPeriod(utc(2025, 1, 14, DAY - 1), 15)).toEqual({
      startMs: utc(2024, 12, 15),
      endMs: utc(2025, 1, 15),
    });
    expect(billingPeriod(utc(2025, 1, 15), 15)).toEqual({
      startMs: utc(2025, 1, 15),
      endMs: utc(2025, 2, 15),
    });
  });

  test('century leap rules: 2000 is a leap year, 2100 is not', () => {
    expect(billingPeriod(utc(2000, 2, 29, 1), 30)).toEqual({
      startMs: utc(2000, 2, 29),
      endMs: utc(2000, 3, 30),
    });
    expect(billingPeriod(utc(2100, 2, 28, 1), 29)).toEqual({
      startMs: utc(2100, 2, 28),
      endMs: utc(2100, 3, 29),
    });
  });

  test('agrees with the day-by-day reference on every day 1999..2030 for anchors 1, 15, 28..31', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (let day = utc(1999, 1, 1); day < utc(2030, 1, 1); day += DAY) {
      for (const anchorDay of [1, 15, 28, 29, 30, 31]) {
        for (const now of [day, day + DAY - 1]) {
          const got = billingPeriod(now, anchorDay);
          const want = walk(now, anchorDay);
          checked++;
          if (got.startMs !== want.startMs || got.endMs !== want.endMs)
            wrong.push(`${new Date(now).toISOString()} anchor ${anchorDay}`);
        }
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(130_000);
  });

  test('rejects an anchor outside 1..31', () => {
    for (const bad of [0, 32, 1.5, Number.NaN])
      expect(() => billingPeriod(utc(2024, 1, 1), bad)).toThrow(/anchorDay/);
  });
});
