// Export: the sink seam — one outbox row delivered to billing (Stripe meter events or a signed webhook).

export interface OutboxRow {
  id: number;
  /** signup.verify: a sealed mailbox + token for the operator's mailer (webhook only; seal-signup-event.ts). */
  kind: 'usage' | 'quota.threshold' | 'signup.verify' | 'tier.changed';
  accountId: string;
  /** The account's id in the billing system (accounts.billing_customer_id), if set. */
  billingCustomerId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
  /** Failed deliveries before this one. */
  attempts: number;
}

export type SinkName = 'stripe' | 'webhook';

export interface ExportSink {
  readonly name: SinkName;
  /** Resolves once the sink accepted the row; throws (any error) when it did not. Must be idempotent by `outboxIdentifier`. */
  deliver(row: OutboxRow): Promise<void>;
}

/** Picks the sink for a row; null = no sink takes this kind (the row is marked delivered as skipped). */
export type SinkRoute = (row: OutboxRow) => ExportSink | null;

/** The idempotent identifier the sink dedupes on: the same row always carries the same one. */
export const outboxIdentifier = (id: number): string => `tollgate-outbox-${id}`;
