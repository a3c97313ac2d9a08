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
  /** Quota units (and credit multiplier) per call; a metered endpoint reserves instead. */
  cost: number;
  overrides: Record<string, EndpointOverride>;
  /** Billed by units known after the response: reserved at the gate, settled later. */
  metering?: Metering;
}

export interface Metering {
  /** What a unit is called (`tokens`), shown to consumers. */
  unit: string;
  /** Units reserved per call when no hint raises it. */
  reserve: number;
  /** Request header (lower-case) whose integer value raises the reservation, up to maxReserve. */
  reserveHeader?: string;
  maxReserve: number;
  /** An unsettled reservation settles at the reserved amount this long after the call. */
  settleWithinMs: number;
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
