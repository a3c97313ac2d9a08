// HTTP listener (HTTP_PORT) → POST /v1/billing/stripe (STRIPE_WEBHOOK_SECRET set): Stripe's subscription and
// invoice events, verified on the raw body, then applied by src/payments/process-stripe-event.ts.
//
// Verification is the `stripe` package's (Stripe.webhooks.constructEvent): HMAC-SHA256 over
// `<t>.<raw body>`, compared in constant time, `t` at most TOLERANCE_S old. It is Stripe's own reading
// of its header format (several v1 signatures during a secret roll), and takes the receive time, so
// tests can inject a clock.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type StripeClient from 'stripe';
import type { Sql } from '../../db/sql.js';
import type { Logger } from '../../logger.js';
import { processStripeEvent, type Processed } from '../../payments/process-stripe-event.js';
import { readStripeEvent } from '../../payments/stripe-event.js';
import type { HttpRoute } from './http-server.js';
import { readCappedBody } from './read-capped-body.js';
import { sendJson, sendProblem } from './send-problem.js';

/** Stripe events are a few KiB; a subscription with many items stays far below this. */
export const MAX_BODY_BYTES = 256 * 1024;
/** Seconds a signature's timestamp may be old (Stripe's default): an older replay is refused. */
export const TOLERANCE_S = 300;

export interface StripeWebhookRouteOptions {
  sql: Sql;
  /** STRIPE_WEBHOOK_SECRET (never logged, never in an answer). */
  secret: string;
  graceMs: number;
  logger?: Logger;
  /** ms since the epoch; tests inject a clock. */
  now?: () => number;
  /** Counts every event by type and result (metrics), refused ones as `rejected`. */
  onResult?: (type: string, result: Processed['result'] | 'rejected') => void;
}

export function createStripeWebhookRoute(options: StripeWebhookRouteOptions): HttpRoute {
  const { sql, secret, logger, now = Date.now, onResult } = options;
  // The `stripe` package is 218 modules: loaded here, where the webhook is configured, not in every
  // process that serves decisions (what a process loads stays in its heap, and a larger heap makes
  // each full garbage collection pause longer).
  const webhooks: Promise<StripeClient['webhooks']> = import('stripe').then((m) => m.default.webhooks);
  // A failed load fails each webhook call (500), not the process.
  webhooks.catch(() => {});
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST')
      return sendProblem(res, 405, 'method_not_allowed', 'Method not allowed', 'Stripe POSTs events.', [
        'allow',
        'POST',
      ]);
    // The body as sent: the signature covers its exact bytes.
    const body = await readCappedBody(req, res, MAX_BODY_BYTES);
    if (body === null) return;
    const refuse = (code: string, detail: string) => {
      onResult?.('unknown', 'rejected');
      sendProblem(res, 400, code, 'Invalid webhook', detail);
    };
    const header = req.headers['stripe-signature'];
    if (typeof header !== 'string')
      return refuse('invalid_signature', 'The Stripe-Signature header is missing.');
    const verifier = await webhooks;
    let event: unknown;
    try {
      event = verifier.constructEvent(body, header, secret, TOLERANCE_S, undefined, now());
    } catch (err) {
      if (err instanceof SyntaxError) return refuse('invalid_request', 'The body is not JSON.');
      const old = err instanceof Error && /tolerance/i.test(err.message);
      return old
        ? refuse('timestamp_too_old', `The signature's timestamp is more than ${TOLERANCE_S} s old.`)
        : refuse(
            'invalid_signature',
            'The Stripe-Signature does not match the body and STRIPE_WEBHOOK_SECRET.',
          );
    }
    const facts = readStripeEvent(event);
    if (typeof facts === 'string') return refuse('invalid_request', facts);
    const processed = await processStripeEvent(sql, facts, event, { graceMs: options.graceMs, now });
    onResult?.(facts.type, processed.result);
    if (processed.result === 'unknown_customer' || processed.result === 'failed')
      logger?.warn(
        { event: processed.eventId, type: processed.type, reason: processed.reason },
        'stripe event not applied: see GET /admin/billing/events, fix, then replay',
      );
    sendJson(res, 200, {
      received: true,
      id: processed.eventId,
      result: processed.result,
      reason: processed.reason,
    });
  };
}
