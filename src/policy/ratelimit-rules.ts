// The Envoy rate-limit service rules (policy section `ratelimit_domains`): domains of nested descriptors.

import type { Algorithm } from './limit-rule.js';

/** One Tollgate limit on a descriptor; any algorithm and window, not only envoyproxy/ratelimit's fixed windows. */
export interface DescriptorLimit {
  algorithm: Algorithm;
  /** Requests per window (token_bucket: refill per window). 0 = every request is over the limit. */
  limit: number;
  windowMs: number;
  /** token_bucket only: capacity (defaults to limit). */
  burst?: number;
}

export interface DescriptorRateLimit {
  /** Echoed as `current_limit.name`; the target of other rules' `replaces`. */
  name?: string;
  /** Names of rules dropped for a request in which this rule matches (envoyproxy/ratelimit `replaces`). */
  replaces: string[];
  /** null = unlimited: always OK, never counted. */
  limit: DescriptorLimit | null;
}

export interface DescriptorRule {
  key: string;
  /** Absent: any value, each value counted apart. May contain `*` (0 or more characters). */
  value?: string;
  /** Absent: no limit at this node (a leaf without one lets requests through). */
  rateLimit?: DescriptorRateLimit;
  /** Counted and reported, never over the limit. */
  shadow: boolean;
  /** Wildcard values only: every matching value shares one counter. */
  shareThreshold: boolean;
  descriptors: DescriptorRule[];
}

export interface RatelimitDomain {
  descriptors: DescriptorRule[];
}

/** Domain name → its rules. */
export type RatelimitDomains = Record<string, RatelimitDomain>;
