// Export → Stripe Billing meter events, through the official `stripe` client (POST /v1/billing/meter_events).

import type Stripe from 'stripe';
import { outboxIdentifier, type ExportSink, type OutboxRow } from './export-sink.js';

export interface StripeSinkOptions {
  /** A secret: handed to the client only, never logged. */
  apiKey: string;
  /** The meter's event name (STRIPE_METER_EVENT). */
  eventName: string;
  /** STRIPE_API_BASE split into the client's host/port/protocol options (tests: a local fake). */
  apiBase?: { host: string; port: number; protocol: 'http' | 'https' } | undefined;
  timeoutMs: number;
}

/**
 * Only `usage` rows go to Stripe (a meter counts units; threshold events are not meter events).
 * `identifier` = tollgate-outbox-<id>: Stripe keeps one event per identifier, so a redelivery after a
 * crash or a timeout is counted once. The client's own retries are off: the outbox retries, with backoff.
 */
export function createStripeSink(options: StripeSinkOptions): ExportSink {
  // The `stripe` package (218 modules) is loaded with the first delivery, not in every process that
  // serves decisions; a failed load fails that delivery, which the outbox retries.
  let loading: Promise<{ client: Stripe; StripeError: typeof Stripe.errors.StripeError }> | undefined;
  const load = () =>
    (loading ??= import('stripe').then(({ default: StripeClass }) => ({
      client: new StripeClass(options.apiKey, {
        maxNetworkRetries: 0,
        timeout: options.timeoutMs,
        telemetry: false,
        ...(options.apiBase
          ? { host: options.apiBase.host, port: options.apiBase.port, protocol: options.apiBase.protocol }
          : {}),
      }),
      StripeError: StripeClass.errors.StripeError,
    })));
  return {
    name: 'stripe',
    async deliver(row: OutboxRow) {
      if (!row.billingCustomerId)
        throw new Error(
          `account ${row.accountId} has no billing_customer_id (set it with PATCH /admin/accounts/{id}, then retry)`,
        );
      const units = Number(row.payload.units ?? 0);
      if (units <= 0) return; // nothing to meter (calls on cost-0 endpoints)
      const { client, StripeError } = await load();
      try {
        await client.billing.meterEvents.create({
          event_name: options.eventName,
          identifier: outboxIdentifier(row.id),
          timestamp: Math.floor(row.createdAt.getTime() / 1000),
          payload: { stripe_customer_id: row.billingCustomerId, value: String(units) },
        });
      } catch (err) {
        // A replay Stripe already has is a success: the event was counted once.
        if (
          err instanceof StripeError &&
          /identifier/i.test(err.message) &&
          /already|duplicate|exists/i.test(err.message)
        )
          return;
        throw new Error(`stripe: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}
