// RLS step 2b: each request descriptor → the rule that limits it (or none, or unlimited), with the
// counter identity it is counted under; rules that a matched rule `replaces` are dropped.

import { hash } from 'node:crypto';
import type { LimitCheck } from '../policy/limit-rule.js';
import type { DescriptorLimit, DescriptorRule, RatelimitDomain } from '../policy/ratelimit-rules.js';
import type { DescriptorMatcher, MatchedRule } from './descriptor-matcher.js';
import { UNIT_MS, unitOfWindow } from './rate-units.js';
import type { RlsDescriptor, RlsLimit, RlsRequest } from './rls-result.js';
import { recentResults } from '../recent-results.js';

export interface Planned {
  domain: string;
  limit: DescriptorLimit;
  info: RlsLimit;
  shadow: boolean;
  quota: boolean;
  /** Counter identity: hashed from domain, rule and the counted values (see counterAccountId). */
  counterId: string;
  /** Stats key parts (`key_value` per level) for rules from the config; absent for request overrides. */
  statsKeys?: string[];
  replaces: string[];
  /**
   * The rule's prepared `limits` per hits count (count-like-tollgate.ts): one array object per use, so
   * the counter store checks and encodes it once. Absent for request overrides (a new limit each call).
   */
  limitsByHits?: Map<number, LimitCheck[]>;
}

export type Plan = Planned | 'unlimited' | null;

/** Matches every descriptor, then drops the rules that a matched rule `replaces`. */
export function planAll(
  matcher: DescriptorMatcher,
  domain: RatelimitDomain | undefined,
  request: RlsRequest,
  globalQuota: boolean,
): Plan[] {
  const { descriptors } = request;
  const plans: Plan[] = new Array(descriptors.length);
  // Loops, and the set of replaced names only when a rule replaces another: this runs on every call.
  let replacing = false;
  for (let i = 0; i < descriptors.length; i++) {
    const p = domain ? plan(matcher, request.domain, descriptors[i]!, globalQuota) : null;
    if (p && p !== 'unlimited' && p.replaces.length > 0) replacing = true;
    plans[i] = p;
  }
  if (!replacing) return plans;
  const replaced = new Set<string>();
  for (const p of plans) if (p && p !== 'unlimited') for (const name of p.replaces) replaced.add(name);
  return plans.map((p) =>
    p && p !== 'unlimited' && p.info.name !== '' && replaced.has(p.info.name) ? null : p,
  );
}

/** What a matched rule's plans share, made on its first match (rules are new objects on each reload). */
interface RulePlan {
  domain: string;
  rulePath: string;
  limit: DescriptorLimit;
  info: RlsLimit;
  /** counterAccountId's parts before the counted values, joined. */
  counterPrefix: string;
  limitsByHits: Map<number, LimitCheck[]>;
}

const rulePlans = new WeakMap<DescriptorRule, RulePlan>();

function rulePlanOf(domain: string, matched: MatchedRule, limit: DescriptorLimit): RulePlan {
  const made = rulePlans.get(matched.rule);
  if (made && made.domain === domain && made.rulePath === matched.rulePath && made.limit === limit)
    return made;
  const { name } = matched.rateLimit;
  const rulePlan: RulePlan = {
    domain,
    rulePath: matched.rulePath,
    limit,
    info: {
      name: name ?? '',
      policyName: name ?? matched.rulePath,
      limit: limit.limit,
      windowMs: limit.windowMs,
      unit: unitOfWindow(limit.windowMs),
    },
    counterPrefix: [domain, `${matched.rulePath}|${limit.algorithm}|${limit.windowMs}`].join('\0'),
    limitsByHits: new Map(),
  };
  rulePlans.set(matched.rule, rulePlan);
  return rulePlan;
}

function plan(
  matcher: DescriptorMatcher,
  domain: string,
  descriptor: RlsDescriptor,
  globalQuota: boolean,
): Plan {
  const { override, entries } = descriptor;
  if (override) {
    const windowMs = UNIT_MS[override.unit];
    return {
      domain,
      limit: { algorithm: 'fixed_window', limit: override.requestsPerUnit, windowMs },
      info: {
        name: '',
        policyName: `${domain}:override:${override.unit}`,
        limit: override.requestsPerUnit,
        windowMs,
        unit: override.unit,
      },
      shadow: false,
      quota: globalQuota,
      replaces: [],
      counterId: counterAccountId([
        domain,
        `override:${override.unit}`,
        ...entries.flatMap((e) => [e.key, e.value]),
      ]),
    };
  }
  const matched = matcher.match(domain, entries);
  if (!matched) return null;
  const { limit, replaces } = matched.rateLimit;
  if (limit === null) return 'unlimited';
  const rule = rulePlanOf(domain, matched, limit);
  return {
    domain,
    limit,
    info: rule.info,
    shadow: matched.rule.shadow,
    quota: globalQuota || matched.rule.quotaMode === true,
    replaces,
    // counterAccountId([domain, rule part, ...matched.counted]), its first two parts joined once.
    counterId: counterIdOf(`${rule.counterPrefix}\0${matched.counted.join('\0')}`),
    statsKeys: matched.statsKeys,
    limitsByHits: rule.limitsByHits,
  };
}

/**
 * Each descriptor is its own "account" for the counter store: a stable id hashed from domain, rule
 * and counted values. decide.lua puts every key of one call under the hash tag {a:<accountId>}, so
 * each descriptor counter keeps its own tag — counters of a busy domain spread over the Redis
 * Cluster slots instead of making one hot slot (the descriptors of one request are then decided
 * one by one, not atomically together: envoyproxy/ratelimit does not either).
 * The one-shot hash costs a third of a Hash object's 1.4 µs; recent ids are kept (below).
 */
export function counterAccountId(parts: string[]): string {
  return counterIdOf(parts.join('\0'));
}

/**
 * Ids of recent counters: a descriptor value repeats call after call (a user, a route), and a Map
 * lookup costs a tenth of the SHA-256. The same id object also reaches the counter store's key-set
 * cache with its string hash already computed.
 */
const counterIdOf = recentResults(10_000, (joined) => `rls_${hash('sha256', joined, 'hex').slice(0, 32)}`);
