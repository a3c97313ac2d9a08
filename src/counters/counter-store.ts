// The counter seam: one atomic decision over rate limits, monthly quota and credits for one account.

import type { LimitCheck } from '../policy/limit-rule.js';

export interface DecideInput {
  accountId: string;
  limits: LimitCheck[];
  /** Billing anchor day 1..31 (1 = calendar month UTC); a day past the month's end means its last day. */
  anchorDay: number;
  /** Quota units this call consumes (endpoint cost). */
  units: number;
  /** null = unlimited quota (usage is still recorded). */
  quota: { limit: number; overage: boolean } | null;
  /**
   * null = no credits charged. `seed` initialises the live balance if Redis has none; `seedLedgerId`
   * is the highest ledger row id the seed holds (KeyRecord.creditLedgerId), recorded with it.
   */
  credits: { cost: number; seed: number; seedLedgerId?: number } | null;
  /** Endpoint name, for the per-period usage record. '' = counters only (the RLS path): no usage record. */
  endpoint: string;
  /**
   * Quota units Postgres already holds for one billing period (flushed usage): a floor for the
   * quota count of that period. A no-op normally (the store counts everything Postgres has); after
   * the store lost its data the quota continues from it, not from 0. A new period starts at 0.
   */
  quotaSeed?: QuotaSeed;
  /**
   * A metered call: `units` are a reservation, recorded under `id` when the call is allowed, so that
   * settle() can later replace them with the actual count (ReservationStore).
   */
  reservation?: ReservationRequest;
}

export interface ReservationRequest {
  /** reservationId(): `<expiry ms base36>.<random>.<accountId>`. */
  id: string;
  /** ms the record is kept: settle_within. Past it the reservation stands at the reserved amount. */
  ttlMs: number;
}

export interface QuotaSeed {
  periodStartMs: number;
  units: number;
}

export interface LimitResult {
  name: string;
  state: 'ok' | 'denied' | 'shadow_denied';
  /** Units left after this decision (or now, when denied). */
  remaining: number;
  /** ms until more units become available (window end; next token). */
  resetMs: number;
  /** ms until this call would be allowed by this limit (0 when not denied). */
  retryAfterMs: number;
}

export interface QuotaResult {
  state: 'ok' | 'denied' | 'overage';
  limit: number;
  used: number;
  remaining: number;
  periodStartMs: number;
  periodEndMs: number;
}

export interface DecideResult {
  allowed: boolean;
  /** The store's clock (Redis TIME) at the decision, ms. */
  nowMs: number;
  /** Same order as `DecideInput.limits`. */
  limits: LimitResult[];
  quota: QuotaResult | null;
  credits: { state: 'ok' | 'denied'; balance: number } | null;
  /** The reservation id, when the store recorded DecideInput.reservation (allowed calls only). */
  reservation?: string;
  /** Set when the shared store was unreachable and FAILURE_MODE answered instead (open: allowed; local: per-replica counters). */
  degraded?: true;
}

export interface CounterStore {
  /** All consumed or nothing consumed. Throws StoreUnavailable on store failure. */
  decide(input: DecideInput): Promise<DecideResult>;
  close(): Promise<void>;
}

/** Whether decisions currently run in a failure mode (Redis unreachable), for the degraded gauge. */
export interface DegradedState {
  readonly degraded: boolean;
  /** Called on every change of `degraded` (entering it with its cause); returns the unsubscribe function. */
  onChange(listener: (degraded: boolean, cause?: string) => void): () => void;
}

/** Live credit balances: a ledger row written in Postgres (top-up, correction) applied once to the store. */
export interface LiveCredits {
  /**
   * Adds `delta` to the account's live balance unless this ledger row was applied already; leaves an
   * absent balance absent (the next decide seeds it from the ledger sum). true = the balance changed.
   */
  applyLedgerRow(accountId: string, ledgerId: string, delta: number): Promise<boolean>;
}
