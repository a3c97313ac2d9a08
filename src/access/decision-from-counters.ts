// The counter store's verdict → a Decision with the policies in force, what denied, and when to retry.

import type { DecideResult } from '../counters/counter-store.js';
import type { ResolvedCall } from '../policy/policy-resolver.js';
import type { Allowed, Decision, Denied, Identity, PolicyState } from './decision.js';

/** Name of the monthly quota in RateLimit headers and `violated-policies`. */
export const QUOTA_POLICY = 'monthly-quota';
export const CREDITS_POLICY = 'credits';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function decisionFromCounters(identity: Identity, call: ResolvedCall, result: DecideResult): Decision {
  const policies: PolicyState[] = [];
  const violated: string[] = [];
  const shadowDenied: string[] = [];
  let rateRetrySec = 0;
  // A plain loop and object literals of one shape: this runs on every decision.
  for (let i = 0; i < result.limits.length; i++) {
    const limit = result.limits[i]!;
    const check = call.limits[i]!;
    const denied = limit.state === 'denied';
    const capacity = check.algorithm === 'token_bucket' ? (check.burst ?? check.limit) : check.limit;
    const windowMs =
      check.algorithm === 'token_bucket' ? (check.windowMs * capacity) / check.limit : check.windowMs;
    // A denied policy reports t = when this call fits, so Retry-After (the max) is never earlier than any t.
    const resetSec = denied ? Math.max(1, seconds(limit.retryAfterMs)) : seconds(limit.resetMs);
    policies.push({
      name: check.name,
      kind: 'rate',
      limit: capacity,
      windowSec: seconds(windowMs),
      remaining: limit.remaining,
      resetSec,
    });
    if (denied) {
      violated.push(check.name);
      if (resetSec > rateRetrySec) rateRetrySec = resetSec;
    } else if (limit.state === 'shadow_denied') shadowDenied.push(check.name);
  }
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
  if (result.allowed) {
    const allowed: Allowed = {
      allowed: true,
      identity,
      endpoint: call.endpoint,
      policies,
      shadowDenied,
      overage: quota?.state === 'overage',
    };
    if (result.degraded) allowed.degraded = true;
    if (result.reservation) allowed.reservation = result.reservation;
    return allowed;
  }
  const denied: Denied = {
    allowed: false,
    identity,
    endpoint: call.endpoint,
    policies,
    shadowDenied,
    code: 'rate_limit_exceeded',
    status: 429,
    detail: '',
    violated,
  };
  if (result.degraded) denied.degraded = true;
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
