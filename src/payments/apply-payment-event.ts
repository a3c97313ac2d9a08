// Payments: invoice.payment_failed / invoice.paid → the account's open payment failure → its status.
//
// A failure opens once (the first one counts) and suspends after PAYMENT_GRACE (enforcePaymentGrace, or at
// once when the event itself arrives after the grace); a payment newer than the failure closes it and lifts
// the suspension, but only one billing made: an operator's suspension stays.

import type { BillingAccount, BillingContext, Outcome } from './billing-context.js';
import { isBillingActor } from './billing-context.js';
import { moveAccount } from './move-account.js';
import type { StripeEventFacts } from './stripe-event.js';

interface PaymentRow {
  failed_at: Date | null;
  paid_at: Date | null;
  suspended_at: Date | null;
}

const ms = (d: Date | null) => (d === null ? null : new Date(d).getTime());
const iso = (msValue: number) => new Date(msValue).toISOString();

export async function applyPaymentEvent(
  ctx: BillingContext,
  facts: StripeEventFacts,
  account: BillingAccount,
): Promise<Outcome> {
  await ctx.tx.query('insert into payment_states (account_id) values ($1) on conflict do nothing', [
    account.id,
  ]);
  const [row] = await ctx.tx.query<PaymentRow & Record<string, unknown>>(
    'select failed_at, paid_at, suspended_at from payment_states where account_id = $1 for update',
    [account.id],
  );
  const failedAt = ms(row!.failed_at);
  const paidAt = ms(row!.paid_at);
  if (facts.type === 'invoice.payment_failed') {
    if (failedAt !== null) return { result: 'ignored', reason: `a failure since ${iso(failedAt)} is open` };
    if (paidAt !== null && paidAt >= facts.createdMs)
      return { result: 'ignored', reason: `paid at ${iso(paidAt)}, after this failure` };
    await ctx.tx.query(
      'update payment_states set failed_at = $2::timestamptz, failed_event = $3 where account_id = $1',
      [account.id, iso(facts.createdMs), facts.id],
    );
    const due = facts.createdMs + ctx.graceMs;
    if (ctx.nowMs < due) return { result: 'applied', reason: `suspends at ${iso(due)} unless paid` };
    await suspendForNonPayment(ctx, account.id);
    return { result: 'applied', reason: 'suspended: the grace had already passed' };
  }
  await ctx.tx.query(
    'update payment_states set paid_at = greatest(paid_at, $2::timestamptz) where account_id = $1',
    [account.id, iso(facts.createdMs)],
  );
  if (failedAt === null) return { result: 'applied', reason: 'no open payment failure' };
  if (facts.createdMs < failedAt)
    return { result: 'ignored', reason: `older than the open failure of ${iso(failedAt)}` };
  await ctx.tx.query(
    'update payment_states set failed_at = null, failed_event = null, suspended_at = null where account_id = $1',
    [account.id],
  );
  if (row!.suspended_at === null || account.status !== 'suspended')
    return { result: 'applied', reason: 'payment failure closed' };
  if (!(await lastStatusChangeByBilling(ctx, account.id)))
    return { result: 'applied', reason: 'payment failure closed; the suspension an operator set stays' };
  await moveAccount(ctx.tx, ctx.actor, account.id, { status: 'active' }, ctx.nowMs);
  return { result: 'applied', reason: 'payment failure closed: suspension lifted' };
}

/** The grace is over: suspend (audited, every replica refuses the keys at commit). */
export async function suspendForNonPayment(ctx: BillingContext, accountId: string): Promise<void> {
  await moveAccount(ctx.tx, ctx.actor, accountId, { status: 'suspended' }, ctx.nowMs);
  await ctx.tx.query('update payment_states set suspended_at = $2::timestamptz where account_id = $1', [
    accountId,
    iso(ctx.nowMs),
  ]);
}

/** Whether the newest status change in the audit log was made by billing, not by an operator. */
async function lastStatusChangeByBilling(ctx: BillingContext, accountId: string): Promise<boolean> {
  const [last] = await ctx.tx.query<{ actor: string }>(
    `select actor from audit_log where target = $1 and action = 'account.update'
        and (details -> 'changes' -> 'status') is not null order by id desc limit 1`,
    [accountId],
  );
  return last !== undefined && isBillingActor(last.actor);
}
