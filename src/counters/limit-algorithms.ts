// Counters: the three rate-limit algorithms in plain JS for the in-process store; mirrors decide.lua line for line.

import type { LimitCheck } from '../policy/limit-rule.js';

/** One limit's stored state: the same fields as the Redis hash (see decide.lua). */
export interface LimitState {
  /** fixed/sliding: window start ms. */
  s?: number;
  /** fixed/sliding: count in the window at `s`. */
  c?: number;
  /** sliding: count of the window before `s`. */
  p?: number;
  /** token_bucket: TAT whole ms, and remainder in 1/limit ms. */
  t?: number;
  r?: number;
}

/** `*Now`: without this call; `*After`: once consumed. `next`/`ttlMs`: state to store when consumed. */
export interface Evaluation {
  fits: boolean;
  remNow: number;
  remAfter: number;
  resetNow: number;
  resetAfter: number;
  /** ms until this call fits (meaningless when it fits). */
  retry: number;
  next: LimitState;
  ttlMs: number;
}

/** floor(a / b) for integers below 2^53, exact. */
export function idiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  const r = a - q * b;
  if (r < 0) q -= 1;
  else if (r >= b) q += 1;
  return q;
}
const ceilDiv = (a: number, b: number) => -idiv(-a, b);

function fixedWindow(st: LimitState, now: number, limit: number, w: number, hits: number): Evaluation {
  const s = idiv(now, w) * w;
  const count = st.s === s ? (st.c ?? 0) : 0;
  const reset = s + w - now;
  return {
    fits: count + hits <= limit,
    remNow: limit - count,
    remAfter: limit - count - hits,
    resetNow: reset,
    resetAfter: reset,
    retry: reset,
    next: { s, c: count + hits },
    ttlMs: 2 * w + 60_000,
  };
}

/** Earliest ms from now at which estimate + hits <= limit if no other call arrives (see decide.lua). */
function slidingRetry(
  now: number,
  s: number,
  w: number,
  limit: number,
  cur: number,
  prev: number,
  hits: number,
): number {
  const room = (limit - cur - hits) * w;
  if (room >= 0) return s + w - idiv(room, prev) - now;
  const room2 = (limit - hits) * w;
  if (room2 < 0) return s + 2 * w - now;
  if (cur * w <= room2) return s + w - now;
  return s + 2 * w - idiv(room2, cur) - now;
}

function slidingWindow(st: LimitState, now: number, limit: number, w: number, hits: number): Evaluation {
  const s = idiv(now, w) * w;
  let cur = 0;
  let prev = 0;
  if (st.s === s) [cur, prev] = [st.c ?? 0, st.p ?? 0];
  else if (st.s === s - w) prev = st.c ?? 0;
  // Estimate = prev * (w - elapsed) / w + cur, compared scaled by w (exact integers).
  const room = limit * w - prev * (w - (now - s));
  const fits = (cur + hits) * w <= room;
  const reset = s + w - now;
  return {
    fits,
    remNow: idiv(room - cur * w, w),
    remAfter: idiv(room - (cur + hits) * w, w),
    resetNow: reset,
    resetAfter: reset,
    retry: fits ? 0 : slidingRetry(now, s, w, limit, cur, prev, hits),
    next: { s, c: cur + hits, p: prev },
    ttlMs: 2 * w + 60_000,
  };
}

/** GCRA in ticks of 1/limit ms: the emission interval windowMs/limit is exactly w ticks. */
function tokenBucket(
  st: LimitState,
  now: number,
  limit: number,
  w: number,
  cap: number,
  hits: number,
): Evaluation {
  const backlog = st.t !== undefined && st.t >= now ? (st.t - now) * limit + (st.r ?? 0) : 0;
  const full = cap * w;
  const after = backlog + hits * w;
  const remaining = (b: number) => idiv(full - b, w);
  const reset = (b: number) => {
    const r = remaining(b);
    return r >= cap ? 0 : ceilDiv(b - (full - (r + 1) * w), limit);
  };
  const fits = after <= full;
  const whole = idiv(after, limit);
  return {
    fits,
    remNow: remaining(backlog),
    remAfter: remaining(after),
    resetNow: reset(backlog),
    resetAfter: reset(after),
    retry: fits ? 0 : ceilDiv(backlog - (full - hits * w), limit),
    next: { t: now + whole, r: after - whole * limit },
    ttlMs: ceilDiv(after, limit) + w + 60_000,
  };
}

export function evaluateLimit(check: LimitCheck, state: LimitState, now: number): Evaluation {
  const { limit, windowMs: w, hits } = check;
  if (check.algorithm === 'fixed_window') return fixedWindow(state, now, limit, w, hits);
  if (check.algorithm === 'sliding_window') return slidingWindow(state, now, limit, w, hits);
  return tokenBucket(state, now, limit, w, check.burst ?? limit, hits);
}
