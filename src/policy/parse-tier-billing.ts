// Policy file → the Stripe side of a tier: `stripe_prices`, `rank`, `downgrade_tier` (and the top-level
// `downgrade_tier`). Every key the billing mapping adds to the policy grammar is declared here.

import type { PolicyChecks, YamlMap } from './policy-checks.js';
import type { Policy, Tier } from './policy.js';

/** Keys a tier may carry for the Stripe mapping (parse-tier.ts accepts them). */
export const TIER_BILLING_KEYS = ['stripe_prices', 'rank', 'downgrade_tier'] as const;
/** Top-level key: the downgrade tier of every tier that names none. */
export const POLICY_BILLING_KEYS = ['downgrade_tier'] as const;
/** The downgrade tier when neither the tier nor the policy names one. */
export const DEFAULT_DOWNGRADE_TIER = 'free';
/** A Stripe price id; also the JSON Schema's pattern (policy-schema.ts). */
export const PRICE_ID_PATTERN = '^price_[A-Za-z0-9_]{1,200}$';
const PRICE_ID = new RegExp(PRICE_ID_PATTERN);

/** Reads the billing keys of one tier into `tier` (problems recorded with their path). */
export function parseTierBilling(c: PolicyChecks, map: YamlMap, path: string, tier: Tier): void {
  if (map.has('stripe_prices')) {
    const list = c.list(map.get('stripe_prices'), `${path}.stripe_prices`);
    const prices: string[] = [];
    for (const [i, value] of (list ?? []).entries()) {
      if (typeof value === 'string' && PRICE_ID.test(value)) prices.push(value);
      else c.add(`${path}.stripe_prices[${i}]`, 'expected a Stripe price id like price_1MoBy5LkdIwHu7ix');
    }
    if (list) tier.stripePrices = prices;
  }
  if (map.has('rank')) {
    const rank = c.int(map.get('rank'), `${path}.rank`, 0);
    if (rank !== undefined) tier.rank = rank;
  }
  if (map.has('downgrade_tier')) {
    const name = c.name(map.get('downgrade_tier'), `${path}.downgrade_tier`);
    if (name !== undefined) tier.downgradeTier = name;
  }
}

/** Cross-tier checks once every tier is read: a price maps to one tier, downgrade tiers exist. */
export function checkTierBilling(c: PolicyChecks, policy: Policy): void {
  const owner = new Map<string, string>();
  const names = Object.keys(policy.tiers);
  if (policy.downgradeTier !== undefined && !names.includes(policy.downgradeTier))
    c.add('downgrade_tier', `unknown tier "${policy.downgradeTier}"`);
  for (const tier of Object.values(policy.tiers)) {
    for (const [i, price] of (tier.stripePrices ?? []).entries()) {
      const other = owner.get(price);
      if (other !== undefined)
        c.add(`tiers.${tier.name}.stripe_prices[${i}]`, `${price} already maps to tier ${other}`);
      else owner.set(price, tier.name);
    }
    if (tier.downgradeTier !== undefined) {
      if (!names.includes(tier.downgradeTier))
        c.add(`tiers.${tier.name}.downgrade_tier`, `unknown tier "${tier.downgradeTier}"`);
      else if (tier.downgradeTier === tier.name)
        c.add(`tiers.${tier.name}.downgrade_tier`, 'must name another tier');
    } else if ((tier.stripePrices?.length ?? 0) > 0 && policy.downgradeTier === undefined) {
      if (!names.includes(DEFAULT_DOWNGRADE_TIER))
        c.add(
          `tiers.${tier.name}.downgrade_tier`,
          `required: there is no tier "${DEFAULT_DOWNGRADE_TIER}" for an ended subscription to fall back to`,
        );
    }
  }
}
