// Export → signed webhooks (Lago, OpenMeter, in-house billing): POST JSON, HMAC-SHA256 over `<timestamp>.<body>`.

import { createHmac } from 'node:crypto';
import { outboxIdentifier, type ExportSink, type OutboxRow } from './export-sink.js';

/** The header receivers verify: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (Stripe-style). */
export const SIGNATURE_HEADER = 'tollgate-signature';

export function signWebhook(secret: string, timestampSec: number, body: string): string {
  return `t=${timestampSec},v1=${createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex')}`;
}

export function createWebhookSink(options: {
  url: string;
  secret: string;
  timeoutMs: number;
  now?: () => number;
  /** The event's `data` for a row (default: its payload); throws to fail the delivery. */
  data?: (row: OutboxRow) => Record<string, unknown>;
}): ExportSink {
  const { url, secret, timeoutMs, now = Date.now, data = (row: OutboxRow) => row.payload } = options;
  return {
    name: 'webhook',
    async deliver(row: OutboxRow) {
      const id = outboxIdentifier(row.id);
      const body = JSON.stringify({
        id,
        kind: row.kind,
        account_id: row.accountId || null,
        billing_customer_id: row.billingCustomerId,
        created_at: row.createdAt.toISOString(),
        data: data(row),
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': id,
          [SIGNATURE_HEADER]: signWebhook(secret, Math.floor(now() / 1000), body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        // A 3xx is a failed delivery (retried, its status in /admin/outbox): following it would send the
        // signed body — and a signup.verify token — wherever the receiver points.
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 300 && res.status <= 399)
        throw new Error(`webhook answered ${res.status} (a redirect: not followed)`);
      if (res.status < 200 || res.status > 299) throw new Error(`webhook answered ${res.status}`);
    },
  };
}
