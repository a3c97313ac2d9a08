// Payments: customer.subscription.created / updated / deleted → the subscription's newest state → the tier.
//
// Stripe does not order its events: the newest event.created per subscription wins, `deleted` wins a tie,
// an older event is recorded as ignored. active/trialing pay for the mapped tier; past_due keeps it for
// PAYMENT_GRACE from the first past_due (then enforcePaymentGrace drops it); anything else pays for nothing.

import { tierForPrices } from '../policy/tier-for-prices.js';
import type { BillingAccount, BillingContext, Outcome } from './billing-context.js';
import { settleAccountTier } from './settle-account-tier.js';
import type { StripeEventFacts } from './stripe-event.js';

interface SubscriptionRow {
  status: string;
  tier: string | null;
  event_id: string;
  event_created: Date;
  past_due_since: Date | null;
}

export async function applySubscriptionEvent(
  ctx: BillingContext,
  facts: StripeEventFacts,
  account: BillingAccount,
): Promise<Outcome> {
  const subscriptionId = facts.subscriptionId;
  if (!subscriptionId) return { result: 'ignored', reason: 'no subscription id in the event' };
  const [known] = await ctx.tx.query<SubscriptionRow & Record<string, unknown>>(
    'select status, tier, event_id, event_created, past_due_since from stripe_subscriptions where id = $1 for update',
    [subscriptionId],
  );
  if (known) {
    const knownMs = new Date(known.event_created).getTime();
    if (known.event_id === facts.id) return { result: 'ignored', reason: 'already applied' };
    const older =
      facts.createdMs < knownMs ||
      (facts.createdMs === knownMs && known.status === 'deleted' && facts.status !== 'deleted');
    if (older)
      return {
        result: 'ignored',
        reason: `older than ${known.event_id} (${new Date(knownMs).toISOString()}), which set ${subscriptionId} to ${known.status}`,
      };
  }
  const status = facts.status ?? '';
  const mapped = tierForPrices(ctx.policy, facts.priceIds);
  let tier: string | null = null;
  let pastDueSince: number | null = null;
  if (status === 'active' || status === 'trialing') tier = mapped;
  else if (status === 'past_due') {
    pastDueSince = known?.past_due_since ? new Date(known.past_due_since).getTime() : facts.createdMs;
    if (ctx.nowMs < pastDueSince + ctx.graceMs) tier = mapped;
  }
  await ctx.tx.query(
    `insert into stripe_subscriptions (id, customer_id, status, tier, event_id, event_created, past_due_since)
     values ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz)
     on conflict (id) do update set customer_id = excluded.customer_id, status = excluded.status, tier = excluded.tier,
       event_id = excluded.event_id, event_created = excluded.event_created, past_due_since = excluded.past_due_since`,
    [
      subscriptionId,
      facts.customerId,
      status,
      tier,
      facts.id,
      new Date(facts.createdMs).toISOString(),
      pastDueSince === null ? null : new Date(pastDueSince).toISOString(),
    ],
  );
  const settled = await settleAccountTier(ctx, account, facts.customerId!);
  const notes: string[] = [];
  if ((status === 'active' || status === 'trialing') && mapped === null)
    notes.push(`no price of ${subscriptionId} is in a tier's stripe_prices`);
  if (pastDueSince !== null && tier !== null)
    notes.push(`past_due: tier kept until ${new Date(pastDueSince + ctx.graceMs).toISOString()}`);
  return { result: settled.result, reason: [settled.reason, ...notes].join('; ') };
}
