// Policy → YAML in the policy file grammar (see demo-policy.yaml), so a stored policy can be exported and re-applied.

import { stringify } from 'yaml';
import { ratelimitDomainsToYaml } from './serialize-ratelimit-domains.js';
import { formatDuration } from './policy-checks.js';
import type { LimitRule, Metering, Policy, Tier } from './policy.js';

/** parsePolicy(serializePolicy(p)) deep-equals p. */
export function serializePolicy(policy: Policy): string {
  const tiers: Record<string, unknown> = {};
  for (const [name, tier] of Object.entries(policy.tiers)) tiers[name] = tierToYaml(tier);
  const endpoints: Record<string, unknown> = {};
  for (const endpoint of policy.endpoints) {
    const overrides: Record<string, unknown> = {};
    for (const [tier, override] of Object.entries(endpoint.overrides)) {
      overrides[tier] = {
        ...(override.allowed ? {} : { allowed: false }),
        ...(override.limits.length > 0 ? { limits: override.limits.map(limitToYaml) } : {}),
      };
    }
    endpoints[endpoint.name] = {
      match: { ...(endpoint.methods.length > 0 ? { methods: endpoint.methods } : {}), path: endpoint.path },
      ...(endpoint.metering ? { metering: meteringToYaml(endpoint.metering) } : { cost: endpoint.cost }),
      ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
    };
  }
  const domains = policy.ratelimitDomains
    ? { ratelimit_domains: ratelimitDomainsToYaml(policy.ratelimitDomains) }
    : {};
  const downgrade = policy.downgradeTier !== undefined ? { downgrade_tier: policy.downgradeTier } : {};
  return stringify(
    { ...downgrade, tiers, ...(policy.endpoints.length > 0 ? { endpoints } : {}), ...domains },
    { lineWidth: 0 },
  );
}

function tierToYaml(tier: Tier): Record<string, unknown> {
  const out: Record<string, unknown> = {
    limits: tier.limits.map(limitToYaml),
    quota: tier.quota
      ? { requests: tier.quota.units, period: 'month', overage: tier.quota.overage ? 'allow' : 'deny' }
      : 'unlimited',
    credits_per_request: tier.creditsPerRequest,
  };
  if (tier.upgradeUrl !== undefined) out.upgrade_url = tier.upgradeUrl;
  if (tier.price)
    out.price = {
      monthly: tier.price.monthly,
      overage_per_1000: tier.price.overagePer1000,
      currency: tier.price.currency,
      ...(tier.price.firstMonth === 'prorated' ? { first_month: 'prorated' } : {}),
    };
  if (tier.stripePrices !== undefined) out.stripe_prices = tier.stripePrices;
  if (tier.rank !== undefined) out.rank = tier.rank;
  if (tier.downgradeTier !== undefined) out.downgrade_tier = tier.downgradeTier;
  return out;
}

function limitToYaml(rule: LimitRule): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: rule.name,
    algorithm: rule.algorithm,
    limit: rule.limit,
    window: formatDuration(rule.windowMs),
  };
  if (rule.burst !== undefined) out.burst = rule.burst;
  if (rule.shadow) out.shadow = true;
  if (rule.unit !== undefined) out.unit = rule.unit;
  return out;
}

function meteringToYaml(m: Metering): Record<string, unknown> {
  return {
    unit: m.unit,
    reserve: m.reserve,
    ...(m.reserveHeader !== undefined ? { reserve_header: m.reserveHeader } : {}),
    max_reserve: m.maxReserve,
    settle_within: formatDuration(m.settleWithinMs),
  };
}
