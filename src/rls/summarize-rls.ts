// RLS step 5: per-descriptor statuses → the overall answer, as envoyproxy/ratelimit's service.go
// decides it (quota descriptors over only all together; global SHADOW_MODE answers OK), plus what
// the chosen response-header style needs.

import type { PolicyState } from '../access/decision.js';
import type { RlsResponseHeaders } from '../policy/ratelimit-rules.js';
import type { RlsResult, RlsSettings, RlsStatus } from './rls-result.js';

const UNLIMITED = 4_294_967_295;

export function summarize(
  statuses: RlsStatus[],
  headers: RlsResponseHeaders,
  settings: RlsSettings,
): RlsResult {
  const policies: PolicyState[] = [];
  const rateOver: string[] = [];
  const quotaOver: string[] = [];
  let quotaCount = 0;
  for (const status of statuses) {
    // service.go: with QUOTA_MODE a descriptor no rule limits (unlimited aside) is a quota descriptor that passed.
    if (!status.limit && settings.quotaMode && status.remaining !== UNLIMITED) quotaCount++;
    if (!status.limit) continue;
    const { policyName, limit, windowMs } = status.limit;
    const name = headerSafe(policyName);
    policies.push({
      name,
      kind: 'rate',
      limit,
      windowSec: Math.ceil(windowMs / 1000),
      remaining: status.remaining,
      resetSec: Math.ceil((status.resetMs ?? 0) / 1000),
    });
    if (status.quota) quotaCount++;
    if (status.over) (status.quota ? quotaOver : rateOver).push(name);
  }
  const quotaViolated = quotaCount > 0 && quotaOver.length === quotaCount;
  const violated = quotaViolated ? [...rateOver, ...quotaOver] : rateOver;
  const over = violated.length > 0;
  const result: RlsResult = { over, statuses, headers, policies, violated };
  if (over && settings.shadowMode) {
    result.over = false;
    result.globalShadow = true;
  }
  if (headers === 'erl') {
    const erl = erlHeaders(statuses, settings);
    if (erl) result.erl = erl;
  }
  return result;
}

/**
 * service.go: the descriptor with a limit and the least remaining (the first of equals); a rate
 * descriptor over the limit always wins (the last one).
 */
function erlHeaders(statuses: RlsStatus[], settings: RlsSettings): RlsResult['erl'] {
  let chosen: RlsStatus | undefined;
  for (const status of statuses) {
    if (!status.limit || status.remaining === UNLIMITED) continue;
    if (!chosen || status.remaining < chosen.remaining || (status.over && !status.quota)) chosen = status;
  }
  if (!chosen?.limit) return undefined;
  return {
    names: settings.erlHeaderNames,
    limit: chosen.limit.limit,
    remaining: chosen.remaining,
    resetSec: Math.ceil((chosen.resetMs ?? 0) / 1000),
  };
}

/** Policy names go into header values: bytes outside printable ASCII are percent-encoded there. */
function headerSafe(name: string): string {
  return /^[\x20-\x7e]*$/.test(name) ? name : name.replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}
