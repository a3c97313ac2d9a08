// One rate limit of the policy, and the form in which the resolver hands it to the counter store.

export type Algorithm = 'fixed_window' | 'sliding_window' | 'token_bucket';

export interface LimitRule {
  name: string;
  algorithm: Algorithm;
  /** Requests allowed per window (token_bucket: refill rate per window). */
  limit: number;
  windowMs: number;
  /** token_bucket only: bucket capacity (defaults to limit). */
  burst?: number;
  /** Shadow mode: counted and reported, never denies. */
  shadow: boolean;
  /**
   * Set: the limit counts units (e.g. `tokens`: the call's cost, or a metered call's reservation)
   * instead of calls, and `limit` is in those units.
   */
  unit?: string;
}

/** A policy limit as the store counts it for one call. */
export interface LimitCheck extends LimitRule {
  /** Stable counter id within the account, e.g. `t:per-minute` (tier) or `e:chat:chat-minute`. */
  id: string;
  /** Units this call consumes from this limit (1 per request). */
  hits: number;
}
