// The core's answer: a denial is a value, never an exception.

export type DenyCode =
  | 'ambiguous_path'
  | 'missing_api_key'
  | 'invalid_api_key'
  | 'account_suspended'
  | 'endpoint_not_in_plan'
  | 'rate_limit_exceeded'
  | 'quota_exceeded'
  | 'insufficient_credits';

export interface Identity {
  accountId: string;
  keyId: string;
  tier: string;
}

/** One policy in force for this call, as the RateLimit headers report it. */
export interface PolicyState {
  name: string;
  kind: 'rate' | 'quota';
  /** Quota units the policy grants per window (`q` of RateLimit-Policy). */
  limit: number;
  /** Window length in whole seconds (`w`). */
  windowSec: number;
  /** Units left after this call (`r`). */
  remaining: number;
  /** Seconds until more units become available (`t`), rounded up. */
  resetSec: number;
}

interface DecisionBase {
  identity?: Identity;
  endpoint?: string;
  policies: PolicyState[];
  /** Shadow-mode policies that would have denied this call. */
  shadowDenied: string[];
  /** The shared counters were unreachable: FAILURE_MODE (open / local) answered this call. */
  degraded?: true;
}

export interface Allowed extends DecisionBase {
  allowed: true;
  identity: Identity;
  endpoint: string;
  /** True when a soft-gated quota is exceeded and this call is billable overage. */
  overage: boolean;
  /** A metered call: the reservation to settle with the actual units (x-tollgate-reservation). */
  reservation?: string;
}

export interface Denied extends DecisionBase {
  allowed: false;
  code: DenyCode;
  /** Client-facing HTTP status: 400 (ambiguous path), 401, 402, 403 or 429. */
  status: 400 | 401 | 402 | 403 | 429;
  detail: string;
  /** Names of the policies that denied (problem+json `violated-policies`). */
  violated: string[];
  /** Whole seconds, rounded up, when waiting helps (429, 402 for quota). */
  retryAfterSec?: number;
  upgradeUrl?: string;
}

export type Decision = Allowed | Denied;
