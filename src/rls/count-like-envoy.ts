// RLS step 4 for `counting: envoy` domains: envoyproxy/ratelimit's counting (its base_limiter.go and
// fixed_cache_impl.go): the hits are added even when over, the answer is OVER_LIMIT while the count
// after adding is past the limit, and `duration_until_reset` is whole seconds to the window's end.

import type { WindowCounter } from '../counters/window-counter.js';
import type { RlsStatus, RuleStats } from './rls-result.js';
import type { Planned } from './plan-descriptor.js';

export interface EnvoyCounting {
  windows: WindowCounter;
  nearLimitRatio: number;
  now: () => number;
}

/** All planned descriptors of one request in one WindowCounter call (one Redis round trip). */
export async function countLikeEnvoy(
  counting: EnvoyCounting,
  plans: ReadonlyArray<{ plan: Planned; hits: number }>,
): Promise<RlsStatus[]> {
  const nowSec = Math.floor(counting.now() / 1000);
  const items = plans.map(({ plan, hits }) => {
    const windowSec = Math.max(1, Math.round(plan.limit.windowMs / 1000));
    return { key: `erl:{${plan.counterId}}:${Math.floor(nowSec / windowSec)}`, hits, ttlSec: windowSec };
  });
  const after = await counting.windows.add(items);
  return plans.map(({ plan, hits }, i) => {
    const windowSec = items[i]!.ttlSec;
    return envoyStatus(plan, hits, after[i]!, windowSec - (nowSec % windowSec), counting.nearLimitRatio);
  });
}

function envoyStatus(p: Planned, hits: number, after: number, resetSec: number, ratio: number): RlsStatus {
  const limit = p.limit.limit;
  const before = after - hits;
  const near = Math.floor(limit * ratio);
  const over = after > limit;
  const stats = p.statsKeys ? newStats(p.domain, p.statsKeys, hits) : undefined;
  if (stats && over) {
    // base_limiter.go checkOverLimitThreshold: only the hits past the limit are over, the rest near.
    if (before >= limit) stats.overLimit += hits;
    else {
      stats.overLimit += after - limit;
      stats.nearLimit += limit - Math.max(near, before);
    }
    if (p.shadow) stats.shadowMode += before >= limit ? hits : after - limit;
  } else if (stats) {
    if (after > near) stats.nearLimit += before >= near ? hits : after - near;
    stats.withinLimit += hits;
  }
  const status: RlsStatus = {
    over: over && !p.shadow,
    limit: p.info,
    remaining: over ? 0 : limit - after,
    resetMs: resetSec * 1000,
    retryAfterMs: over ? resetSec * 1000 : 0,
  };
  if (p.quota) status.quota = true;
  if (stats) status.stats = stats;
  return status;
}

export function newStats(domain: string, keys: string[], hits: number): RuleStats {
  return { domain, keys, totalHits: hits, overLimit: 0, nearLimit: 0, withinLimit: 0, shadowMode: 0 };
}
