// Payments: an account's tier from all its subscriptions — the highest tier any entitled one pays for, or,
// with none left, the downgrade tier (only for tiers sold through Stripe; an operator's deal is left alone).

import { downgradeTierFor, highestTier, isStripeTier } from '../policy/tier-for-prices.js';
import type { BillingAccount, BillingContext, Outcome } from './billing-context.js';
import { BillingFailure } from './billing-context.js';
import { moveAccount } from './move-account.js';

export async function settleAccountTier(
  ctx: BillingContext,
  account: BillingAccount,
  customerId: string,
): Promise<Outcome> {
  const rows = await ctx.tx.query<{ tier: string }>(
    'select tier from stripe_subscriptions where customer_id = $1 and tier is not null',
    [customerId],
  );
  const paid = highestTier(
    ctx.policy,
    rows.map((r) => r.tier),
  );
  let target = paid;
  if (target === null) {
    if (!isStripeTier(ctx.policy, account.tier))
      return {
        result: 'ignored',
        reason: `no paid subscription, and tier ${account.tier} is not sold through Stripe: left as is`,
      };
    target = downgradeTierFor(ctx.policy, account.tier);
    if (!ctx.policy.tiers[target])
      throw new BillingFailure(`downgrade tier "${target}" is not in the policy (set downgrade_tier)`);
  }
  const changed = await moveAccount(ctx.tx, ctx.actor, account.id, { tier: target }, ctx.nowMs);
  const how = paid === null ? 'downgraded' : 'paid';
  return {
    result: 'applied',
    reason: changed.length > 0 ? `tier ${account.tier} → ${target} (${how})` : `tier stays ${target}`,
  };
}
