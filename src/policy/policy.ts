// The validated, in-memory policy: tiers, their limits and quota, endpoints and per-tier overrides.

import type { LimitRule } from './limit-rule.js';
import type { RatelimitDomains } from './ratelimit-rules.js';

export type { Algorithm, LimitRule } from './limit-rule.js';

/** Monthly quota in units (endpoint cost); period = calendar month UTC or the account's anchor day. */
export interface Quota {
  units: number;
  /** Soft gate: past the quota calls pass, flagged and billed as overage. */
  overage: boolean;
}

export interface Price {
  monthly: number;
  overagePer1000: number;
  currency: string;
  /** The billing period the account was created in: the full price, or prorated by the time it existed. */
  firstMonth: 'full' | 'prorated';
}

export interface Tier {
  name: string;
  limits: LimitRule[];
  /** null = unlimited. */
  quota: Quota | null;
  /** Credits debited per quota unit (0 = this tier does not use credits). */
  creditsPerRequest: number;
  upgradeUrl?: string;
  price?: Price;
  /** Stripe price ids (`price_…`) whose active subscription puts an account on this tier. */
  stripePrices?: string[];
  /** Several subscribed prices: the tier with the highest rank wins (absent = 0). */
  rank?: number;
  /** Where an account on this tier goes when its subscription ends (else the policy's, else `free`). */
  downgradeTier?: string;
}

export interface EndpointOverride {
  /** Feature gate: false answers 403 endpoint_not_in_plan. */
  allowed: boolean;
  /** Added to the tier's limits for calls to this endpoint. */
  limits: LimitRule[];
}

export interface Endpoint {
  name: string;
  /** Upper-case methods; empty = any method. */
  methods: string[];
  /** Path pattern on the normalised path: `*` one segment, trailing `/**` the prefix and all below it. */
  path: string;
  /** Quota units (and credit multiplier) per call. */
  cost: number;
  overrides: Record<string, EndpointOverride>;
}

export interface Policy {
  tiers: Record<string, Tier>;
  /** In file order: the first match wins. */
  endpoints: Endpoint[];
  /** Envoy rate-limit service rules by domain (policy file `ratelimit_domains`); absent = none. */
  ratelimitDomains?: RatelimitDomains;
  /** Policy file `downgrade_tier`: where an ended subscription leaves an account when its tier names none. */
  downgradeTier?: string;
}

/** The endpoint name used for calls that match no endpoint of the policy. */
export const DEFAULT_ENDPOINT = 'default';
