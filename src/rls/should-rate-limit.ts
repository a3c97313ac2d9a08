// RLS step 3, the use case: descriptors → matched rules → one CounterStore.decide per limited
// descriptor → per-descriptor statuses and the overall answer. Transport-neutral (no gRPC here).

import { createHash } from 'node:crypto';
import type { PolicyState } from '../access/decision.js';
import type { CounterStore, DecideInput } from '../counters/counter-store.js';
import { InputError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { DescriptorMatcher, type DescriptorEntry } from './descriptor-matcher.js';
import { UNIT_MS, unitOfWindow, type RateUnit } from './rate-units.js';
import type { DescriptorLimit } from '../policy/ratelimit-rules.js';

export interface RlsDescriptor {
  entries: DescriptorEntry[];
  /** Envoy's route-action `limit`: used instead of the rules, as a fixed window of that unit. */
  override?: { requestsPerUnit: number; unit: RateUnit };
  /** Per-descriptor hits; 0 = check only. Absent: the request's. */
  hits?: number;
}

export interface RlsRequest {
  domain: string;
  descriptors: RlsDescriptor[];
  /** Request-level hits; 0 means 1 (proto3 default). */
  hitsAddend: number;
}

export interface RlsLimit {
  /** The rule's own name ('' when unnamed), echoed as current_limit.name. */
  name: string;
  /** For RateLimit headers: the name, else the rule's place `key=value/key2`. */
  policyName: string;
  limit: number;
  windowMs: number;
  /** undefined when the window is no RLS unit (e.g. 10 s). */
  unit: RateUnit | undefined;
}

export interface RlsStatus {
  over: boolean;
  /** Absent when nothing limits this descriptor (unknown domain, no rule, replaced, unlimited). */
  limit?: RlsLimit;
  remaining: number;
  /** ms until more requests are allowed; absent without a limit. */
  resetMs?: number;
  /** ms until this call would fit; 0 unless over. */
  retryAfterMs: number;
}

export interface RlsResult {
  over: boolean;
  /** Same order as the request's descriptors. */
  statuses: RlsStatus[];
  /** Every counted limit, for the RateLimit headers. */
  policies: PolicyState[];
  /** Policy names over the limit (shadow mode excluded). */
  violated: string[];
}

export type ShouldRateLimit = (request: RlsRequest) => Promise<RlsResult>;

export interface ShouldRateLimitDeps {
  counters: CounterStore;
  /** The current policy; a reloaded policy is compiled once, on its first use. */
  policy: () => { policy: Policy };
  now?: () => number;
}

/** envoyproxy/ratelimit answers `limit_remaining` = max uint32 for unlimited rules. */
export const UNLIMITED_REMAINING = 4_294_967_295;

interface Planned {
  limit: DescriptorLimit;
  info: RlsLimit;
  shadow: boolean;
  /** Counter identity: rule + the counted values (see counterAccountId). */
  counterParts: string[];
}

export function createShouldRateLimit({
  counters,
  policy,
  now = Date.now,
}: ShouldRateLimitDeps): ShouldRateLimit {
  const matchers = new WeakMap<Policy, DescriptorMatcher>();
  const matcherFor = (p: Policy) => {
    let matcher = matchers.get(p);
    if (!matcher) matchers.set(p, (matcher = new DescriptorMatcher(p.ratelimitDomains ?? {})));
    return matcher;
  };
  return async (request) => {
    checkRequest(request);
    const matcher = matcherFor(policy().policy);
    const plans = planAll(matcher, request);
    const requestHits = Math.max(1, request.hitsAddend);
    const statuses = await Promise.all(
      plans.map((plan, i) => {
        if (plan === 'unlimited') return { over: false, remaining: UNLIMITED_REMAINING, retryAfterMs: 0 };
        if (!plan) return { over: false, remaining: 0, retryAfterMs: 0 };
        return decideOne(counters, plan, request.descriptors[i]!.hits ?? requestHits, now);
      }),
    );
    return summarize(statuses);
  };
}

function checkRequest(request: RlsRequest): void {
  if (request.domain === '')
    throw new InputError([{ path: 'domain', message: 'rate limit domain must not be empty' }]);
  if (request.descriptors.length === 0)
    throw new InputError([{ path: 'descriptors', message: 'rate limit descriptor list must not be empty' }]);
}

/** Matches every descriptor, then drops the rules that a matched rule `replaces`. */
function planAll(matcher: DescriptorMatcher, request: RlsRequest): Array<Planned | 'unlimited' | null> {
  if (!matcher.hasDomain(request.domain)) return request.descriptors.map(() => null);
  const plans = request.descriptors.map((descriptor) => plan(matcher, request.domain, descriptor));
  const replaced = new Set(plans.flatMap((p) => (p && p !== 'unlimited' ? p.replaces : [])));
  return plans.map((p) =>
    p && p !== 'unlimited' && p.info.name !== '' && replaced.has(p.info.name) ? null : p,
  );
}

function plan(
  matcher: DescriptorMatcher,
  domain: string,
  descriptor: RlsDescriptor,
): (Planned & { replaces: string[] }) | 'unlimited' | null {
  const { override, entries } = descriptor;
  if (override) {
    const windowMs = UNIT_MS[override.unit];
    const limit: DescriptorLimit = { algorithm: 'fixed_window', limit: override.requestsPerUnit, windowMs };
    const info: RlsLimit = {
      name: '',
      policyName: `${domain}:override:${override.unit}`,
      limit: limit.limit,
      windowMs,
      unit: override.unit,
    };
    return {
      limit,
      info,
      shadow: false,
      replaces: [],
      counterParts: [domain, `override:${override.unit}`, ...entries.flatMap((e) => [e.key, e.value])],
    };
  }
  const matched = matcher.match(domain, entries);
  if (!matched) return null;
  const { limit, name, replaces } = matched.rateLimit;
  if (limit === null) return 'unlimited';
  const info: RlsLimit = {
    name: name ?? '',
    policyName: name ?? matched.rulePath,
    limit: limit.limit,
    windowMs: limit.windowMs,
    unit: unitOfWindow(limit.windowMs),
  };
  const ruleId = `${matched.rulePath}|${limit.algorithm}|${limit.windowMs}`;
  return {
    limit,
    info,
    shadow: matched.rule.shadow,
    replaces,
    counterParts: [domain, ruleId, ...matched.counted],
  };
}

/**
 * Each descriptor is its own "account" for the counter store: a stable id hashed from domain, rule
 * and counted values. decide.lua puts every key of one call under the hash tag {a:<accountId>}, so
 * each descriptor counter keeps its own tag — counters of a busy domain spread over the Redis
 * Cluster slots instead of making one hot slot (the descriptors of one request are then decided
 * one by one, not atomically together: envoyproxy/ratelimit does not either).
 */
export function counterAccountId(parts: string[]): string {
  return `rls_${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32)}`;
}

async function decideOne(
  counters: CounterStore,
  p: Planned,
  hits: number,
  now: () => number,
): Promise<RlsStatus> {
  const { limit } = p;
  if (limit.limit === 0) {
    // A limit of 0 (envoyproxy/ratelimit allows it) refuses every counted request; nothing to store.
    const over = hits > 0;
    return {
      over: over && !p.shadow,
      limit: p.info,
      remaining: 0,
      resetMs: limit.windowMs - (now() % limit.windowMs),
      retryAfterMs: over ? limit.windowMs : 0,
    };
  }
  const check = {
    id: 'l',
    name: p.info.policyName,
    algorithm: limit.algorithm,
    limit: limit.limit,
    windowMs: limit.windowMs,
    shadow: p.shadow,
    hits,
  };
  const input: DecideInput = {
    accountId: counterAccountId(p.counterParts),
    limits: [limit.burst === undefined ? check : { ...check, burst: limit.burst }],
    anchorDay: 1,
    units: 0,
    quota: null,
    credits: null,
    endpoint: '', // counters only: RLS descriptors are not billable usage
  };
  const result = (await counters.decide(input)).limits[0]!;
  const fits = result.state === 'ok';
  return {
    over: result.state === 'denied',
    limit: p.info,
    remaining: fits ? result.remaining : 0,
    resetMs: result.resetMs,
    retryAfterMs: fits ? 0 : result.retryAfterMs,
  };
}

function summarize(statuses: RlsStatus[]): RlsResult {
  const policies: PolicyState[] = [];
  const violated: string[] = [];
  statuses.forEach((status) => {
    if (!status.limit) return;
    const { policyName, limit, windowMs } = status.limit;
    policies.push({
      name: policyName,
      kind: 'rate',
      limit,
      windowSec: Math.ceil(windowMs / 1000),
      remaining: status.remaining,
      resetSec: Math.ceil((status.resetMs ?? 0) / 1000),
    });
    if (status.over) violated.push(policyName);
  });
  return { over: violated.length > 0, statuses, policies, violated };
}
