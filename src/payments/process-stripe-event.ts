// Payments, one verified Stripe event: recorded by id (a redelivery is a no-op), applied, its outcome
// written — all in one transaction, so the webhook answers 2xx only once the change is committed.

import { writeAudit } from '../accounts/audit-log.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { loadPolicy } from '../policy/policy-repository.js';
import { applyPaymentEvent } from './apply-payment-event.js';
import { applySubscriptionEvent } from './apply-subscription-event.js';
import { BillingFailure, type BillingAccount, type BillingContext, type Outcome } from './billing-context.js';
import { isHandledType, readStripeEvent, type StripeEventFacts } from './stripe-event.js';

export type EventResult = 'applied' | 'ignored' | 'failed' | 'unknown_customer';

export interface Processed {
  eventId: string;
  type: string;
  /** `duplicate`: this id was recorded before (its first outcome is in `reason`). */
  result: EventResult | 'duplicate';
  reason: string;
  accountId: string | null;
}

export interface ProcessOptions {
  graceMs: number;
  /** ms since the epoch; tests inject a clock. */
  now?: () => number;
}

export async function processStripeEvent(
  sql: Sql,
  facts: StripeEventFacts,
  payload: unknown,
  options: ProcessOptions,
): Promise<Processed> {
  return sql.transaction(async (tx) => {
    const inserted = await tx.query(
      `insert into stripe_events (id, type, created, customer_id, subscription_id, result, payload)
       values ($1, $2, $3::timestamptz, $4, $5, 'received', $6::text::jsonb) on conflict (id) do nothing returning id`,
      [
        facts.id,
        facts.type,
        new Date(facts.createdMs).toISOString(),
        facts.customerId,
        facts.subscriptionId,
        JSON.stringify(payload),
      ],
    );
    if (inserted.length === 0) {
      const [first] = await tx.query<{ result: string }>('select result from stripe_events where id = $1', [
        facts.id,
      ]);
      return { ...base(facts), result: 'duplicate', reason: `already received (${first?.result})` };
    }
    return applyAndRecord(tx, facts, options);
  });
}

/**
 * Applies a recorded event again (after fixing a customer id or the policy), audited as `actor`'s
 * replay in the same transaction; null = no such event, `duplicate` = it was applied already.
 */
export async function replayStripeEvent(
  sql: Sql,
  actor: string,
  id: string,
  options: ProcessOptions,
): Promise<Processed | null> {
  return sql.transaction(async (tx) => {
    const [row] = await tx.query<{ result: string; payload: unknown }>(
      'select result, payload from stripe_events where id = $1 for update',
      [id],
    );
    if (!row) return null;
    const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
    const facts = readStripeEvent(payload);
    if (typeof facts === 'string') throw new InputError([{ path: 'payload', message: facts }]);
    if (row.result === 'applied') return { ...base(facts), result: 'duplicate', reason: 'already applied' };
    const processed = await applyAndRecord(tx, facts, options);
    await writeAudit(tx, {
      actor,
      action: 'billing_event.replay',
      target: `stripe:${id}`,
      details: { result: processed.result, account_id: processed.accountId },
    });
    return processed;
  });
}

async function applyAndRecord(tx: Sql, facts: StripeEventFacts, options: ProcessOptions): Promise<Processed> {
  let outcome: Processed;
  try {
    // A savepoint: a failure rolls back the half-made change, the event's record stays.
    outcome = await tx.transaction((inner) => apply(inner, facts, options));
  } catch (err) {
    if (!(err instanceof BillingFailure || err instanceof InputError)) throw err;
    outcome = { ...base(facts), result: 'failed', reason: err.message };
  }
  await tx.query(
    `update stripe_events set result = $2, reason = $3, account_id = $4,
       applied_at = case when $2 = 'applied' then now() else applied_at end where id = $1`,
    [
      facts.id,
      outcome.result === 'unknown_customer' ? 'ignored' : outcome.result,
      outcome.reason,
      outcome.accountId,
    ],
  );
  return outcome;
}

async function apply(tx: Sql, facts: StripeEventFacts, options: ProcessOptions): Promise<Processed> {
  const done = (outcome: Outcome, accountId: string | null = null): Processed => ({
    ...base(facts),
    ...outcome,
    accountId,
  });
  if (!isHandledType(facts.type)) return done({ result: 'ignored', reason: 'event type not handled' });
  if (!facts.customerId) return done({ result: 'ignored', reason: 'no customer in the event' });
  const accounts = await tx.query<BillingAccount & Record<string, unknown>>(
    'select id, tier, status from accounts where billing_customer_id = $1 order by id for update',
    [facts.customerId],
  );
  if (accounts.length === 0)
    return {
      ...base(facts),
      result: 'unknown_customer',
      reason: `unknown customer ${facts.customerId}: set it as billing_customer_id on its account, then replay`,
      accountId: null,
    };
  if (accounts.length > 1)
    throw new BillingFailure(
      `customer ${facts.customerId} is on ${accounts.length} accounts (${accounts.map((a) => a.id).join(', ')})`,
    );
  const account = accounts[0]!;
  const ctx: BillingContext = {
    tx,
    policy: await loadPolicy(tx),
    actor: `stripe:${facts.id}`,
    nowMs: (options.now ?? Date.now)(),
    graceMs: options.graceMs,
  };
  const outcome = facts.type.startsWith('invoice.')
    ? await applyPaymentEvent(ctx, facts, account)
    : await applySubscriptionEvent(ctx, facts, account);
  return done(outcome, account.id);
}

const base = (facts: StripeEventFacts) => ({ eventId: facts.id, type: facts.type, accountId: null });
