// RLS step 3, the use case: descriptors → matched rules → counted the domain's way (envoyproxy/
// ratelimit's or Tollgate's) → per-descriptor statuses and the overall answer. Transport-neutral.

import type { CheckAccess } from '../access/check-access.js';
import type { CounterStore } from '../counters/counter-store.js';
import type { WindowCounter } from '../counters/window-counter.js';
import { InputError } from '../errors.js';
import type { RatelimitDomains } from '../policy/ratelimit-rules.js';
import { countLikeEnvoy } from './count-like-envoy.js';
import { countLikeTollgate } from './count-like-tollgate.js';
import { decideApiKey, namesApiKey } from './decide-api-key.js';
import { DescriptorMatcher } from './descriptor-matcher.js';
import { planAll, type Planned } from './plan-descriptor.js';
import type { RlsRequest, RlsSettings, RlsStatus, ShouldRateLimit } from './rls-result.js';
import { summarize } from './summarize-rls.js';

export type * from './rls-result.js';
export { counterAccountId } from './plan-descriptor.js';

export const DEFAULT_RLS_SETTINGS: RlsSettings = {
  shadowMode: false,
  quotaMode: false,
  nearLimitRatio: 0.8,
  responseHeaders: undefined,
  erlHeadersEnabled: false,
  erlHeaderNames: { limit: 'RateLimit-Limit', remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset' },
};

export interface ShouldRateLimitDeps {
  counters: CounterStore;
  /** Counters for `counting: envoy` domains. */
  windows: WindowCounter;
  /** The current rules (policy and config directory); a new object is compiled once, on its first use. */
  domains: () => RatelimitDomains;
  settings?: RlsSettings;
  /** For descriptors that name Tollgate's API key (see decide-api-key.ts); without it they match rules. */
  checkAccess?: CheckAccess;
  now?: () => number;
}

/** envoyproxy/ratelimit answers `limit_remaining` = max uint32 for unlimited rules. */
export const UNLIMITED_REMAINING = 4_294_967_295;

export function createShouldRateLimit({
  counters,
  windows,
  domains,
  settings = DEFAULT_RLS_SETTINGS,
  checkAccess,
  now = Date.now,
}: ShouldRateLimitDeps): ShouldRateLimit {
  const matchers = new WeakMap<RatelimitDomains, DescriptorMatcher>();
  const matcherFor = (d: RatelimitDomains) => {
    let matcher = matchers.get(d);
    if (!matcher) matchers.set(d, (matcher = new DescriptorMatcher(d)));
    return matcher;
  };
  const counting = { windows, nearLimitRatio: settings.nearLimitRatio, now };
  return async (request) => {
    checkRequest(request);
    const current = domains();
    const domain = current[request.domain];
    const plans = planAll(matcherFor(current), domain, request, settings.quotaMode);
    const requestHits = Math.max(1, request.hitsAddend);
    // One pass, no placeholder statuses: this runs on every RLS call, most with one descriptor.
    const statuses: Array<RlsStatus | Promise<RlsStatus>> = new Array(plans.length);
    let envoy: Array<{ plan: Planned; hits: number; at: number }> | undefined;
    let pending = 0;
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i];
      const descriptor = request.descriptors[i]!;
      if (checkAccess && namesApiKey(descriptor.entries)) {
        statuses[i] = decideApiKey(checkAccess, descriptor.entries);
        pending++;
      } else if (plan === 'unlimited') {
        statuses[i] = { over: false, remaining: UNLIMITED_REMAINING, retryAfterMs: 0 };
      } else if (!plan) {
        statuses[i] = { over: false, remaining: 0, retryAfterMs: 0 };
      } else if (domain?.counting === 'envoy' && plan.limit.algorithm === 'fixed_window') {
        // The policy parser allows counting: envoy on fixed windows only; a request override is one too.
        (envoy ??= []).push({ plan, hits: descriptor.hits ?? requestHits, at: i });
      } else {
        statuses[i] = countLikeTollgate(counters, plan, descriptor.hits ?? requestHits, now);
        pending++;
      }
    }
    if (envoy)
      (await countLikeEnvoy(counting, envoy)).forEach((status, j) => {
        statuses[envoy[j]!.at] = status;
      });
    const headers =
      domain?.responseHeaders ??
      settings.responseHeaders ??
      (domain?.counting === 'envoy' ? (settings.erlHeadersEnabled ? 'erl' : 'none') : 'ietf');
    // The statuses once the pending ones have settled; one alone is awaited as itself (no Promise.all).
    const all =
      pending === 0
        ? (statuses as RlsStatus[])
        : statuses.length === 1
          ? [await statuses[0]!]
          : await Promise.all(statuses);
    return summarize(all, headers, settings);
  };
}

function checkRequest(request: RlsRequest): void {
  if (request.domain === '')
    throw new InputError([{ path: 'domain', message: 'rate limit domain must not be empty' }]);
  if (request.descriptors.length === 0)
    throw new InputError([{ path: 'descriptors', message: 'rate limit descriptor list must not be empty' }]);
}
