// Counters: rejects nonsense DecideInput before any store is touched (a plain Error: a bug, not an outage).

import type { DecideInput } from './counter-store.js';

const ALGORITHMS = new Set(['fixed_window', 'sliding_window', 'token_bucket']);

function int(value: unknown, min: number, what: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`decide: ${what} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function text(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new Error(`decide: ${what} must be a non-empty string`);
}

/** Throws a plain Error naming the first bad field. Bounds keep the scripts' integer maths below 2^53. */
export function checkDecideInput(input: DecideInput): void {
  text(input.accountId, 'accountId');
  if (typeof input.endpoint !== 'string')
    throw new Error('decide: endpoint must be a string ("" = no usage record)');
  // decide.lua joins a call's spec with "|", and usage fields are "<period>|<endpoint>|…".
  if (input.endpoint.includes('|')) throw new Error('decide: endpoint must not contain "|"');
  int(input.anchorDay, 1, 'anchorDay');
  if (input.anchorDay > 31) throw new Error(`decide: anchorDay must be 1..31, got ${input.anchorDay}`);
  int(input.units, 0, 'units');
  if (input.quota !== null) int(input.quota.limit, 0, 'quota.limit');
  if (input.credits !== null) {
    int(input.credits.cost, 0, 'credits.cost');
    int(input.credits.seed, 0, 'credits.seed');
    if (input.credits.seedLedgerId !== undefined) int(input.credits.seedLedgerId, 0, 'credits.seedLedgerId');
  }
  if (input.quotaSeed !== undefined) {
    int(input.quotaSeed.periodStartMs, 0, 'quotaSeed.periodStartMs');
    int(input.quotaSeed.units, 0, 'quotaSeed.units');
  }
  if (input.reservation !== undefined) int(input.reservation.ttlMs, 1, 'reservation.ttlMs');
  if (!checkedLimits.has(input.limits)) checkLimits(input.limits);
}

/**
 * Limits arrays already found sound: a decision's array is most often the one prepared for its tier
 * and endpoint, the same object every call, so it is checked once, not per decision.
 */
const checkedLimits = new WeakSet<readonly DecideInput['limits'][number][]>();

function checkLimits(limits: DecideInput['limits']): void {
  const ids = new Set<string>();
  limits.forEach((l, i) => {
    const at = `limits[${i}]`;
    text(l.id, `${at}.id`);
    if (l.id.includes('|')) throw new Error(`decide: ${at}.id must not contain "|"`);
    if (ids.has(l.id)) throw new Error(`decide: ${at}.id "${l.id}" is repeated`);
    ids.add(l.id);
    if (!ALGORITHMS.has(l.algorithm))
      throw new Error(`decide: ${at}.algorithm "${String(l.algorithm)}" is unknown`);
    int(l.limit, 1, `${at}.limit`);
    int(l.windowMs, 1, `${at}.windowMs`);
    if (l.burst !== undefined) int(l.burst, 1, `${at}.burst`);
    int(l.hits, 0, `${at}.hits`);
    if (typeof l.shadow !== 'boolean') throw new Error(`decide: ${at}.shadow must be a boolean`);
    const capacity = Math.max(l.limit, l.burst ?? l.limit);
    if (!Number.isSafeInteger((capacity + l.hits) * l.windowMs * 2))
      throw new Error(`decide: ${at} is too large`);
  });
  checkedLimits.add(limits);
}
