// RLS step 3 types: what ShouldRateLimit takes and answers, transport-neutral (gRPC, /json and the
// node:http2 server all shape their answers from these).

import type { PolicyState } from '../access/decision.js';
import type { RlsConfig } from '../config.js';
import type { RlsResponseHeaders } from '../policy/ratelimit-rules.js';
import type { DescriptorEntry } from './descriptor-matcher.js';
import type { RateUnit } from './rate-units.js';

export interface RlsDescriptor {
  entries: DescriptorEntry[];
  /** Envoy's route-action `limit`: used instead of the rules, as a fixed window of that unit. */
  override?: { requestsPerUnit: number; unit: RateUnit };
  /** Per-descriptor hits; 0 = check only. Absent: the request's. */
  hits?: number;
}

export interface RlsRequest {
  domain: string;
  descriptors: RlsDescriptor[];
  /** Request-level hits; 0 means 1 (proto3 default). */
  hitsAddend: number;
}

export interface RlsLimit {
  /** The rule's own name ('' when unnamed), echoed as current_limit.name. */
  name: string;
  /** For RateLimit headers: the name, else the rule's place `key=value/key2`. */
  policyName: string;
  limit: number;
  windowMs: number;
  /** undefined when the window is no RLS unit (e.g. 10 s). */
  unit: RateUnit | undefined;
}

/** What one decision adds to envoyproxy/ratelimit's per-rule stats (ratelimit_service_rate_limit_*). */
export interface RuleStats {
  domain: string;
  /** The rule's `key_value` parts below the domain: from the rules, never from a request. */
  keys: string[];
  totalHits: number;
  overLimit: number;
  nearLimit: number;
  withinLimit: number;
  shadowMode: number;
}

export interface RlsStatus {
  over: boolean;
  /** Absent when nothing limits this descriptor (unknown domain, no rule, replaced, unlimited). */
  limit?: RlsLimit;
  remaining: number;
  /** ms until more requests are allowed; absent without a limit. Whole seconds for `counting: envoy`. */
  resetMs?: number;
  /** ms until this call would fit; 0 unless over. */
  retryAfterMs: number;
  /** envoyproxy/ratelimit quota_mode (or QUOTA_MODE): over counts only if every quota descriptor is over. */
  quota?: boolean;
  stats?: RuleStats;
  /** An allowed plan decision on a metered endpoint: its reservation, sent upstream to be settled. */
  reservation?: string;
}

export interface ErlHeaders {
  names: { limit: string; remaining: string; reset: string };
  limit: number;
  remaining: number;
  resetSec: number;
}

export interface RlsResult {
  over: boolean;
  /** Same order as the request's descriptors. */
  statuses: RlsStatus[];
  /** Which response headers to add: `none`, `erl` (see `erl`), `ietf` (from `policies`, with a body on 429). */
  headers: RlsResponseHeaders;
  /** For `erl`: the descriptor closest to its limit, as envoyproxy/ratelimit picks it. */
  erl?: ErlHeaders;
  /** Every counted limit, for the IETF RateLimit headers. */
  policies: PolicyState[];
  /** Policy names over the limit (shadow mode excluded). */
  violated: string[];
  /** Over the limit, but answered OK because of the global SHADOW_MODE. */
  globalShadow?: boolean;
}

export type ShouldRateLimit = (request: RlsRequest) => Promise<RlsResult>;

/** The envoyproxy/ratelimit settings decisions use (read in config.ts: SHADOW_MODE, QUOTA_MODE, ...). */
export type RlsSettings = Omit<RlsConfig, 'configDir' | 'ignoreDotFiles' | 'mergeDomains'>;
