// Payments: what applying one Stripe event (or one grace check) works with, and how it ends.

import type { Sql } from '../db/sql.js';
import type { Policy } from '../policy/policy.js';

export interface BillingContext {
  /** The transaction the event's record, the change, its audit row and outbox row commit in. */
  tx: Sql;
  /** The stored policy, read in the same transaction. */
  policy: Policy;
  /** `stripe:<event id>` or `billing:grace`: who the audit row names. */
  actor: string;
  nowMs: number;
  /** PAYMENT_GRACE in ms. */
  graceMs: number;
}

/** The account an event is about, locked for the transaction. */
export interface BillingAccount {
  id: string;
  tier: string;
  status: 'active' | 'suspended';
}

export interface Outcome {
  result: 'applied' | 'ignored';
  reason: string;
}

/** An event that cannot be applied as the policy stands (recorded as failed; replay after fixing). */
export class BillingFailure extends Error {
  override readonly name = 'BillingFailure';
}

/** Actors whose status changes invoice.paid may undo: Stripe events and the grace check. */
export const isBillingActor = (actor: string): boolean =>
  actor.startsWith('stripe:') || actor.startsWith('billing:');
