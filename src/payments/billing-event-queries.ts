// Payments, operator side: the recorded Stripe events, newest first, with what each did.

import type { Sql } from '../db/sql.js';

export type BillingEventResult = 'received' | 'applied' | 'ignored' | 'failed';

export interface BillingEventView {
  id: string;
  type: string;
  created: Date;
  receivedAt: Date;
  customerId: string | null;
  subscriptionId: string | null;
  accountId: string | null;
  result: BillingEventResult;
  reason: string | null;
  appliedAt: Date | null;
}

export async function listBillingEvents(
  sql: Sql,
  filter: { result?: BillingEventResult; customerId?: string; limit: number },
): Promise<BillingEventView[]> {
  const rows = await sql.query(
    `select id, type, created, received_at, customer_id, subscription_id, account_id, result, reason, applied_at
       from stripe_events where ($1::text is null or result = $1) and ($2::text is null or customer_id = $2)
      order by received_at desc, id desc limit $3::int`,
    [filter.result ?? null, filter.customerId ?? null, filter.limit],
  );
  const date = (v: unknown) => (v === null ? null : new Date(v as string | Date));
  return rows.map((r) => ({
    id: r.id as string,
    type: r.type as string,
    created: date(r.created)!,
    receivedAt: date(r.received_at)!,
    customerId: r.customer_id as string | null,
    subscriptionId: r.subscription_id as string | null,
    accountId: r.account_id as string | null,
    result: r.result as BillingEventResult,
    reason: r.reason as string | null,
    appliedAt: date(r.applied_at),
  }));
}
