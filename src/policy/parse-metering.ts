// Policy file → Metering: an endpoint billed by units known only after the response (tokens).
//
//   metering: { unit: tokens, reserve: 2000, reserve_header: x-reserve-units, max_reserve: 32000,
//               settle_within: 10m }
//
// The gate reserves `reserve` units (raised by the named request header up to `max_reserve`); the
// call's actual count settles the reservation later, or it settles at the reserved amount once
// `settle_within` has passed.

import { INT4_MAX, type PolicyChecks } from './policy-checks.js';
import type { Metering } from './policy.js';

export const METERING_KEYS = ['unit', 'reserve', 'reserve_header', 'max_reserve', 'settle_within'];
export const DEFAULT_SETTLE_WITHIN_MS = 600_000;
/** A reservation open longer than a day would hold usage back from the books for too long. */
export const MAX_SETTLE_WITHIN_MS = 86_400_000;
/** An HTTP header name (RFC 9110 token), lower-case: proxies hand them to us lower-cased. */
export const HEADER_NAME_PATTERN = "^[a-z0-9!#$%&'*+.^_`|~-]+$";
/** Names the proxies strip or that carry the key: never a reservation hint. */
const FORBIDDEN_HEADER = /^(x[-_]tollgate[-_]|x[-_]api[-_]key$|authorization$|:)/;

export function parseMetering(c: PolicyChecks, value: unknown, path: string): Metering | undefined {
  const map = c.map(value, path, METERING_KEYS);
  if (!map) return undefined;
  const unit = map.has('unit') ? c.name(map.get('unit'), `${path}.unit`) : 'units';
  const reserve = map.has('reserve')
    ? c.int(map.get('reserve'), `${path}.reserve`, 1, INT4_MAX)
    : c.add(`${path}.reserve`, 'required');
  let maxReserve = reserve;
  if (map.has('max_reserve')) {
    maxReserve = c.int(map.get('max_reserve'), `${path}.max_reserve`, 1, INT4_MAX);
    if (maxReserve !== undefined && reserve !== undefined && maxReserve < reserve)
      maxReserve = c.add(`${path}.max_reserve`, `must be at least reserve (${reserve})`);
  }
  let reserveHeader: string | undefined;
  if (map.has('reserve_header')) {
    const raw = map.get('reserve_header');
    if (typeof raw !== 'string' || !new RegExp(HEADER_NAME_PATTERN).test(raw))
      c.add(`${path}.reserve_header`, 'expected a lower-case HTTP header name');
    else if (FORBIDDEN_HEADER.test(raw))
      c.add(`${path}.reserve_header`, 'x-tollgate-*, x-api-key and authorization are not forwarded');
    else reserveHeader = raw;
  }
  let settleWithinMs: number | undefined = DEFAULT_SETTLE_WITHIN_MS;
  if (map.has('settle_within')) {
    settleWithinMs = c.duration(map.get('settle_within'), `${path}.settle_within`);
    if (settleWithinMs !== undefined && (settleWithinMs < 1000 || settleWithinMs > MAX_SETTLE_WITHIN_MS))
      settleWithinMs = c.add(`${path}.settle_within`, 'expected a duration from 1s to 1d');
  }
  if (unit === undefined || reserve === undefined || maxReserve === undefined || !settleWithinMs)
    return undefined;
  if (map.has('reserve_header') && reserveHeader === undefined) return undefined;
  const metering: Metering = { unit, reserve, maxReserve, settleWithinMs };
  if (reserveHeader !== undefined) metering.reserveHeader = reserveHeader;
  return metering;
}

/**
 * The units to reserve for one call: `base` (the endpoint's reserve, or a proxy's cost hint), raised
 * by the hint header up to max_reserve; the header never lowers it.
 */
export function unitsToReserve(
  metering: Metering,
  hint: string | string[] | undefined,
  base = metering.reserve,
): number {
  const raw = Array.isArray(hint) ? hint[0] : hint;
  if (raw === undefined || !/^\d{1,10}$/.test(raw.trim())) return base;
  return Math.max(base, Math.min(metering.maxReserve, Number(raw.trim())));
}
