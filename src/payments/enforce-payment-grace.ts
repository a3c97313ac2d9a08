// Payments, beside the decision path: once PAYMENT_GRACE has passed, a past_due subscription stops paying
// for its tier and an unpaid invoice suspends its account. Run by start-payment-grace-check.ts every
// minute on every replica; an advisory lock lets one replica at a time do it, the others skip the round.

import type { Sql } from '../db/sql.js';
import { loadPolicy } from '../policy/policy-repository.js';
import { suspendForNonPayment } from './apply-payment-event.js';
import type { BillingAccount, BillingContext } from './billing-context.js';
import { settleAccountTier } from './settle-account-tier.js';

/** pg_try_advisory_xact_lock key of the grace check. */
const GRACE_LOCK = 7_326_104_553;
export const GRACE_ACTOR = 'billing:grace';

export interface GraceResult {
  /** Accounts whose past_due subscription stopped paying for their tier. */
  downgraded: number;
  suspended: number;
}

export async function enforcePaymentGrace(sql: Sql, graceMs: number, nowMs: number): Promise<GraceResult> {
  return sql.transaction(async (tx) => {
    const result: GraceResult = { downgraded: 0, suspended: 0 };
    const [lock] = await tx.query<{ locked: boolean }>(
      'select pg_try_advisory_xact_lock($1::bigint) as locked',
      [GRACE_LOCK],
    );
    if (!lock?.locked) return result;
    const cutoff = new Date(nowMs - graceMs).toISOString();
    const ctx: BillingContext = { tx, policy: await loadPolicy(tx), actor: GRACE_ACTOR, nowMs, graceMs };
    const expired = await tx.query<{ customer_id: string }>(
      `update stripe_subscriptions set tier = null
        where status = 'past_due' and tier is not null and past_due_since <= $1::timestamptz returning customer_id`,
      [cutoff],
    );
    for (const customerId of new Set(expired.map((r) => r.customer_id))) {
      const [account] = await tx.query<BillingAccount & Record<string, unknown>>(
        'select id, tier, status from accounts where billing_customer_id = $1 order by id limit 1 for update',
        [customerId],
      );
      if (account && (await settleAccountTier(ctx, account, customerId)).result === 'applied')
        result.downgraded++;
    }
    const unpaid = await tx.query<{ account_id: string }>(
      `select account_id from payment_states where failed_at <= $1::timestamptz and suspended_at is null
        order by account_id for update`,
      [cutoff],
    );
    for (const { account_id } of unpaid) {
      await suspendForNonPayment(ctx, account_id);
      result.suspended++;
    }
    return result;
  });
}
