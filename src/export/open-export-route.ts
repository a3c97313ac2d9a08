// Export: the sinks Config names → the route each outbox row takes (usage → Stripe if set, else the webhook;
// quota.threshold, tier.changed → the webhook). undefined = no sink configured (the exporter does not run).

import type { ExportConfig } from '../config.js';
import type { ExportSink, SinkRoute } from './export-sink.js';
import { createStripeSink } from './stripe-sink.js';
import { unsealSignupEvent } from '../signup/seal-signup-event.js';
import { createWebhookSink } from './webhook-sink.js';

/** `signupSecret` (SIGNUP_SECRET) opens signup.verify rows as the webhook delivers them. */
export function openExportRoute(config: ExportConfig, signupSecret = ''): SinkRoute | undefined {
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
        data: (row) =>
          row.kind === 'signup.verify' ? { ...unsealSignupEvent(signupSecret, row.payload) } : row.payload,
      })
    : undefined;
  if (!stripe && !webhook) return undefined;
  return (row) => (row.kind === 'usage' ? (stripe ?? webhook!) : (webhook ?? null));
}
