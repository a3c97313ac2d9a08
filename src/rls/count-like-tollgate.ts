// RLS step 4 for `counting: tollgate` domains: one CounterStore.decide per descriptor (decide.lua),
// all-or-nothing — a denied request is not counted — with any of Tollgate's algorithms.

import type { CounterStore, DecideInput } from '../counters/counter-store.js';
import type { LimitCheck } from '../policy/limit-rule.js';
import { newStats } from './count-like-envoy.js';
import type { Planned } from './plan-descriptor.js';
import type { RlsStatus } from './rls-result.js';

export async function countLikeTollgate(
  counters: CounterStore,
  p: Planned,
  hits: number,
  now: () => number,
): Promise<RlsStatus> {
  const { limit } = p;
  const stats = p.statsKeys ? newStats(p.domain, p.statsKeys, hits) : undefined;
  let status: RlsStatus;
  if (limit.limit === 0) {
    // A limit of 0 (envoyproxy/ratelimit allows it) refuses every counted request; nothing to store.
    const over = hits > 0;
    status = {
      over: over && !p.shadow,
      limit: p.info,
      remaining: 0,
      resetMs: limit.windowMs - (now() % limit.windowMs),
      retryAfterMs: over ? limit.windowMs : 0,
    };
    if (stats) countStats(stats, over, p.shadow, hits);
  } else {
    const result = (await counters.decide(decideInput(p, hits))).limits[0]!;
    const fits = result.state === 'ok';
    status = {
      over: result.state === 'denied',
      limit: p.info,
      remaining: fits ? result.remaining : 0,
      resetMs: result.resetMs,
      retryAfterMs: fits ? 0 : result.retryAfterMs,
    };
    if (stats) countStats(stats, !fits, p.shadow, hits);
  }
  if (p.quota) status.quota = true;
  if (stats) status.stats = stats;
  return status;
}

function countStats(stats: NonNullable<RlsStatus['stats']>, over: boolean, shadow: boolean, hits: number) {
  if (!over) stats.withinLimit += hits;
  else {
    stats.overLimit += hits;
    if (shadow) stats.shadowMode += hits;
  }
}

/**
 * The limits array of one rule as used (name, shadow, hits): the same array object call after call,
 * so the store checks and encodes it once, not per request. Kept on the rule's plan (plan-descriptor.ts),
 * bounded per rule: hits_addend is the caller's to choose.
 */
const MAX_USES_PER_RULE = 64;

function limitsOf(p: Planned, hits: number): LimitCheck[] {
  const uses = p.limitsByHits;
  let limits = uses?.get(hits);
  if (limits === undefined) {
    const { limit } = p;
    const check: LimitCheck = {
      id: 'l',
      name: p.info.policyName,
      algorithm: limit.algorithm,
      limit: limit.limit,
      windowMs: limit.windowMs,
      shadow: p.shadow,
      hits,
    };
    limits = [limit.burst === undefined ? check : { ...check, burst: limit.burst }];
    if (uses && uses.size < MAX_USES_PER_RULE) uses.set(hits, limits);
  }
  return limits;
}

function decideInput(p: Planned, hits: number): DecideInput {
  return {
    accountId: p.counterId,
    limits: limitsOf(p, hits),
    anchorDay: 1,
    units: 0,
    quota: null,
    credits: null,
    endpoint: '', // counters only: RLS descriptors are not billable usage
  };
}
