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
  /** envoyproxy/ratelimit `quota_mode`: over only when every quota descriptor of the request is over. */
  quotaMode?: boolean;
  descriptors: DescriptorRule[];
}

/**
 * `envoy`: envoyproxy/ratelimit's counting (hits added even when over; `hits_addend: 0` reports
 * without counting; fixed windows only). `tollgate`: all-or-nothing, a denied request is not counted.
 */
export type RlsCounting = 'envoy' | 'tollgate';
/** `none`: no headers (envoyproxy/ratelimit's default); `erl`: its RateLimit-Limit/-Remaining/-Reset; `ietf`: Tollgate's. */
export type RlsResponseHeaders = 'none' | 'erl' | 'ietf';
export const RLS_RESPONSE_HEADERS: readonly RlsResponseHeaders[] = ['none', 'erl', 'ietf'];
export const RLS_COUNTING: readonly RlsCounting[] = ['envoy', 'tollgate'];

export interface RatelimitDomain {
  descriptors: DescriptorRule[];
  /** Absent: `tollgate`. Imported and directory-loaded domains are `envoy`. */
  counting?: RlsCounting;
  /** Absent: the global setting (see rls-settings in config.ts). */
  responseHeaders?: RlsResponseHeaders;
}

/**
 * Names, keys and values are byte strings compared as envoyproxy/ratelimit compares them (`Zürich`
 * works). Tollgate's own limits: 1 to 256 bytes of UTF-8 and no control characters (they would end
 * up in logs and gRPC messages).
 */
export function isRlsText(text: string): boolean {
  return text.length > 0 && Buffer.byteLength(text) <= 256 && !/\p{Cc}/u.test(text);
}
export const RLS_TEXT_RULE = '1 to 256 bytes of UTF-8, no control characters';

/** Domain name → its rules. */
export type RatelimitDomains = Record<string, RatelimitDomain>;
