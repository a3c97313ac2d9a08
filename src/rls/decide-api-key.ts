// RLS step 4 for a descriptor that names Tollgate's API key (Envoy `request_headers` on x-api-key
// with `descriptor_key: tollgate_api_key`): the caller's plan decides it, through the same CheckAccess
// as ext_authz, so one route can use RLS rules and the caller's plan together.

import type { CheckAccess } from '../access/check-access.js';
import type { DescriptorEntry } from './descriptor-matcher.js';
import { unitOfWindow } from './rate-units.js';
import type { RlsStatus } from './rls-result.js';

/** The descriptor keys Tollgate reads itself; the API key entry makes a descriptor a plan check. */
export const API_KEY_ENTRY = 'tollgate_api_key';
const ENDPOINT_ENTRY = 'tollgate_endpoint';
const METHOD_ENTRY = ':method';
const PATH_ENTRY = ':path';

export function namesApiKey(entries: readonly DescriptorEntry[]): boolean {
  return entries.some((e) => e.key === API_KEY_ENTRY);
}

/**
 * One plan decision per call, as ext_authz makes it (quota, credits and usage counted once; the
 * descriptor's hits_addend does not apply). A denial of any kind (no plan for the key included) is
 * OVER_LIMIT: the only "no" the RLS protocol has.
 */
export async function decideApiKey(
  checkAccess: CheckAccess,
  entries: readonly DescriptorEntry[],
): Promise<RlsStatus> {
  const value = (key: string) => entries.find((e) => e.key === key)?.value;
  const endpoint = value(ENDPOINT_ENTRY);
  const decision = await checkAccess({
    transport: 'rls',
    apiKey: value(API_KEY_ENTRY) || undefined,
    keyHeader: 'x-api-key',
    method: (value(METHOD_ENTRY) ?? 'GET').toUpperCase(),
    path: value(PATH_ENTRY) ?? '/',
    ...(endpoint ? { endpointHint: endpoint } : {}),
    spoofedHeaders: [],
  });
  // The policy closest to its limit stands for the plan in current_limit and the headers.
  const tightest = [...decision.policies].sort((a, b) => a.remaining - b.remaining)[0];
  const status: RlsStatus = {
    over: !decision.allowed,
    remaining: tightest?.remaining ?? 0,
    retryAfterMs: decision.allowed ? 0 : (decision.retryAfterSec ?? 1) * 1000,
  };
  if (decision.allowed && decision.reservation) status.reservation = decision.reservation;
  if (tightest) {
    const windowMs = tightest.windowSec * 1000;
    status.limit = {
      name: tightest.name,
      policyName: tightest.name,
      limit: tightest.limit,
      windowMs,
      unit: unitOfWindow(windowMs),
    };
    status.resetMs = tightest.resetSec * 1000;
  }
  return status;
}
