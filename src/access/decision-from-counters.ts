// The counter store's verdict → a Decision with the policies in force, what denied, and when to retry.

import type { DecideResult } from '../counters/counter-store.js';
import type { ResolvedCall } from '../policy/policy-resolver.js';
import type { Decision, Denied, Identity, PolicyState } from './decision.js';

/** Name of the monthly quota in RateLimit headers and `violated-policies`. */
export const QUOTA_POLICY = 'monthly-quota';
export const CREDITS_POLICY = 'credits';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function decisionFromCounters(identity: Identity, call: ResolvedCall, result: DecideResult): Decision {
  const policies: PolicyState[] = [];
  const violated: string[] = [];
  const shadowDenied: string[] = [];
  let rateRetrySec = 0;
  result.limits.forEach((limit, i) => {
    const check = call.limits[i]!;
    const denied = limit.state === 'denied';
    const capacity = check.algorithm === 'token_bucket' ? (check.burst ?? check.limit) : check.limit;
    const windowMs = check.algorithm === 'token_bucket' ? (check.windowMs * capacity) / check.limit : check.windowMs;
    // A denied policy reports t = when this call fits, so Retry-After (the max) is never earlier than any t.
    const resetSec = denied ? Math.max(1, seconds(limit.retryAfterMs)) : seconds(limit.resetMs);
    policies.push({ name: check.name, kind: 'rate', limit: capacity, windowSec: seconds(windowMs), remaining: limit.remaining, resetSec });
    if (denied) {
      violated.push(check.name);
      rateRetrySec = Math.max(rateRetrySec, resetSec);
    } else if (limit.state === 'shadow_denied') shadowDenied.push(check.name);
  });
  const { quota, credits } = result;
  if (quota) {
    policies.push({
      name: QUOTA_POLICY,
      kind: 'quota',
      limit: quota.limit,
      windowSec: seconds(quota.periodEndMs - quota.periodStartMs),
      remaining: quota.remaining,
      resetSec: seconds(quota.periodEndMs - result.nowMs),
    });
    if (quota.state === 'denied') violated.push(QUOTA_POLICY);
  }
  if (credits?.state === 'denied') violated.push(CREDITS_POLICY);
  const base: { identity: Identity; endpoint: string; policies: PolicyState[]; shadowDenied: string[]; degraded?: true } = {
    identity, endpoint: call.endpoint, policies, shadowDenied,
  };
  if (result.degraded) base.degraded = true;
  if (result.allowed) return { ...base, allowed: true, overage: quota?.state === 'overage' };

  const denied: Denied = { ...base, allowed: false, code: 'rate_limit_exceeded', status: 429, detail: '', violated };
  if (quota?.state === 'denied') {
    denied.code = 'quota_exceeded';
    denied.status = 402;
    denied.detail = `The monthly quota of ${quota.limit} units of the ${call.tier.name} plan is used up.`;
    denied.retryAfterSec = Math.max(1, seconds(quota.periodEndMs - result.nowMs));
  } else if (credits?.state === 'denied') {
    denied.code = 'insufficient_credits';
    denied.status = 402;
    denied.detail = `This call costs more credits than the balance of ${credits.balance}.`;
  } else {
    denied.detail = `Rate limit ${violated.join(', ')} exceeded; retry in ${rateRetrySec} s.`;
    denied.retryAfterSec = Math.max(1, rateRetrySec);
  }
  if (denied.status === 402 && call.tier.upgradeUrl) denied.upgradeUrl = call.tier.upgradeUrl;
  return denied;
}
