// The decision use case: key → account → policy → one atomic counter call → Decision.

import type { CounterStore, DecideInput } from '../counters/counter-store.js';
import { hashApiKey } from '../keys/api-key.js';
import type { KeyStore } from '../keys/key-store.js';
import type { PolicyResolver } from '../policy/policy-resolver.js';
import type { AccessRequest } from './access-request.js';
import type { CheckAccess } from './check-access.js';
import type { Decision, Denied } from './decision.js';
import { decisionFromCounters } from './decision-from-counters.js';

/** Longer strings are not keys: refused without a lookup, so junk cannot fill the caches. */
const MAX_KEY_LENGTH = 256;

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
    const { apiKey } = request;
    if (!apiKey)
      return deny(
        'missing_api_key',
        401,
        'Send your API key in the x-api-key header or as Authorization: Bearer.',
      );
    if (apiKey.length > MAX_KEY_LENGTH) return invalidKey();
    const record = await keys.findByHash(hashApiKey(apiKey));
    if (!record || record.revoked || (record.expiresAt !== null && record.expiresAt <= now()))
      return invalidKey();
    const identity = { accountId: record.accountId, keyId: record.keyId, tier: record.tier };
    if (record.accountStatus !== 'active') {
      return { ...deny('account_suspended', 403, 'This account is suspended.'), identity };
    }
    const call = policy().resolve(
      record.tier,
      request.method,
      request.path,
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
    const { tier } = call;
    const input: DecideInput = {
      accountId: record.accountId,
      limits: call.limits,
      anchorDay: record.billingAnchorDay,
      units: call.cost,
      quota: tier.quota ? { limit: tier.quota.units, overage: tier.quota.overage } : null,
      credits:
        tier.creditsPerRequest > 0
          ? {
              cost: tier.creditsPerRequest * call.cost,
              seed: record.creditBalance,
              seedLedgerId: record.creditLedgerId ?? 0,
            }
          : null,
      endpoint: call.endpoint,
      quotaSeed: record.quotaSeed,
    };
    return decisionFromCounters(identity, call, await counters.decide(input));
  };
}

function invalidKey(): Denied {
  return deny('invalid_api_key', 401, 'The API key is unknown, expired or revoked.');
}

function deny(code: Denied['code'], status: Denied['status'], detail: string): Denied {
  return { allowed: false, code, status, detail, policies: [], violated: [], shadowDenied: [] };
}
