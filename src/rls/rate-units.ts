// The units of envoyproxy/ratelimit and of the RLS messages, as window lengths (its month is 30 days, its year 365).

export type RateUnit = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

const SECOND = 1000;
const DAY = 86_400 * SECOND;

/** Window length in ms; windows are aligned to the Unix epoch, as envoyproxy/ratelimit counts them. */
export const UNIT_MS: Readonly<Record<RateUnit, number>> = {
  second: SECOND,
  minute: 60 * SECOND,
  hour: 3600 * SECOND,
  day: DAY,
  week: 7 * DAY,
  month: 30 * DAY,
  year: 365 * DAY,
};

export const RATE_UNITS = Object.keys(UNIT_MS) as RateUnit[];

/** The unit whose window is exactly `windowMs`, or undefined (e.g. a 10 s window). */
export function unitOfWindow(windowMs: number): RateUnit | undefined {
  return RATE_UNITS.find((unit) => UNIT_MS[unit] === windowMs);
}
