// Export: the sinks Config names → the route each outbox row takes (usage → Stripe if set, else the webhook;
// quota.threshold, tier.changed → the webhook). undefined = no sink configured (the exporter does not run).

import type { ExportConfig } from '../config.js';
import type { ExportSink, SinkRoute } from './export-sink.js';
import { createStripeSink } from './stripe-sink.js';
import { createWebhookSink } from './webhook-sink.js';

export function openExportRoute(config: ExportConfig): SinkRoute | undefined {
  const stripe: ExportSink | undefined = config.stripe
    ? createStripeSink({
        apiKey: config.stripe.apiKey,
        eventName: config.stripe.meterEvent,
        apiBase: config.stripe.apiBase,
        timeoutMs: config.timeoutMs,
      })
    : undefined;
  const webhook = config.webhook
    ? createWebhookSink({
        url: config.webhook.url,
        secret: config.webhook.secret,
        timeoutMs: config.timeoutMs,
      })
    : undefined;
  if (!stripe && !webhook) return undefined;
  return (row) => (row.kind === 'usage' ? (stripe ?? webhook!) : (webhook ?? null));
}
