// The decision use case: key → account → policy → one atomic counter call → Decision.

import type { CounterStore, DecideInput } from '../counters/counter-store.js';
import type { KeyStore } from '../keys/key-store.js';
import { KEY_DETAILS, verifyKeyNow } from '../keys/verify-key.js';
import { newReservationId } from '../metering/reservation-id.js';
import { unitsToReserve } from '../policy/parse-metering.js';
import { normalizePath } from '../policy/normalize-path.js';
import { type PolicyResolver, unitHits } from '../policy/policy-resolver.js';
import type { AccessRequest } from './access-request.js';
import type { CheckAccess } from './check-access.js';
import type { Decision, Denied } from './decision.js';
import { decisionFromCounters } from './decision-from-counters.js';

export interface CheckAccessDeps {
  keys: KeyStore;
  /** The current policy; replaced on reload. */
  policy: () => PolicyResolver;
  counters: CounterStore;
  /** Wall clock for key expiry only (ms); counter time comes from the store. */
  now?: () => number;
}

export function createCheckAccess({ keys, policy, counters, now = Date.now }: CheckAccessDeps): CheckAccess {
  return async function checkAccess(request: AccessRequest): Promise<Decision> {
    // First: a path the app could read as another endpoint is refused before any key or counter is
    // touched, whatever endpoint the proxy named (normalize-path.ts says which paths).
    const reading = normalizePath(request.path);
    if (reading.path === undefined)
      return deny('ambiguous_path', 400, `The request path has more than one reading: ${reading.ambiguous}.`);
    // A cached key is judged without an await: only a cache miss waits here.
    const found = verifyKeyNow(keys, request.apiKey, now());
    const verdict = found instanceof Promise ? await found : found;
    if (!verdict.valid) return deny(verdict.code, 401, KEY_DETAILS[verdict.code]);
    const { record } = verdict;
    const identity = { accountId: record.accountId, keyId: record.keyId, tier: record.tier };
    if (record.accountStatus !== 'active') {
      return { ...deny('account_suspended', 403, 'This account is suspended.'), identity };
    }
    const call = policy().resolve(
      record.tier,
      request.method,
      reading.path,
      request.endpointHint,
      request.costHint,
    );
    if (!call)
      return {
        ...deny('endpoint_not_in_plan', 403, `Plan ${record.tier} is not in the current policy.`),
        identity,
      };
    if (!call.allowed) {
      const denied: Denied = {
        ...deny(
          'endpoint_not_in_plan',
          403,
          `Endpoint ${call.endpoint} is not included in the ${record.tier} plan.`,
        ),
        identity,
        endpoint: call.endpoint,
      };
      if (call.tier.upgradeUrl) denied.upgradeUrl = call.tier.upgradeUrl;
      return denied;
    }
    const { tier, metering } = call;
    const hint = metering?.reserveHeader && request.headers?.[metering.reserveHeader];
    // call.cost: the reserve, or the proxy's cost hint (tollgate.cost) for this route.
    const units = metering ? unitsToReserve(metering, hint || undefined, call.cost) : call.cost;
    const input: DecideInput = {
      accountId: record.accountId,
      limits: unitHits(call, units),
      anchorDay: record.billingAnchorDay,
      units,
      quota: tier.quota ? { limit: tier.quota.units, overage: tier.quota.overage } : null,
      credits:
        tier.creditsPerRequest > 0
          ? {
              cost: tier.creditsPerRequest * units,
              seed: record.creditBalance,
              seedLedgerId: record.creditLedgerId ?? 0,
            }
          : null,
      endpoint: call.endpoint,
      quotaSeed: record.quotaSeed,
    };
    if (metering)
      input.reservation = {
        id: newReservationId(record.accountId, now(), metering.settleWithinMs),
        ttlMs: metering.settleWithinMs,
      };
    return decisionFromCounters(identity, call, await counters.decide(input));
  };
}

function deny(code: Denied['code'], status: Denied['status'], detail: string): Denied {
  return { allowed: false, code, status, detail, policies: [], violated: [], shadowDenied: [] };
}
