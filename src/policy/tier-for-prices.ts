// Stripe subscriptions → tiers: which tier a set of subscribed prices buys, and where an ended one falls to.

import { DEFAULT_DOWNGRADE_TIER } from './parse-tier-billing.js';
import type { Policy } from './policy.js';

/** The tier of the highest rank among those the prices map to (ties: the first in the policy); null = none maps. */
export function tierForPrices(policy: Policy, priceIds: readonly string[]): string | null {
  const mapped = Object.values(policy.tiers).filter((t) => t.stripePrices?.some((p) => priceIds.includes(p)));
  return highestTier(
    policy,
    mapped.map((t) => t.name),
  );
}

/** The highest-ranked of several tiers (ties: the first in the policy); null for none. */
export function highestTier(policy: Policy, names: readonly string[]): string | null {
  let best: string | null = null;
  for (const tier of Object.values(policy.tiers)) {
    if (!names.includes(tier.name)) continue;
    if (best === null || (tier.rank ?? 0) > (policy.tiers[best]!.rank ?? 0)) best = tier.name;
  }
  return best;
}

/** Where an account on `tier` goes when no subscription pays for it any more. */
export function downgradeTierFor(policy: Policy, tier: string): string {
  return policy.tiers[tier]?.downgradeTier ?? policy.downgradeTier ?? DEFAULT_DOWNGRADE_TIER;
}

/** A tier sold through Stripe (it names prices): only those are downgraded when payments stop. */
export function isStripeTier(policy: Policy, tier: string): boolean {
  return (policy.tiers[tier]?.stripePrices?.length ?? 0) > 0;
}
