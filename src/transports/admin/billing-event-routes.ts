// Admin API: inbound Stripe events — what arrived and what each did, and a replay once the cause is fixed.

import { listBillingEvents, type BillingEventResult } from '../../payments/billing-event-queries.js';
import { replayStripeEvent } from '../../payments/process-stripe-event.js';
import { HttpError, notFound } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';

const RESULTS = ['received', 'applied', 'ignored', 'failed'] as const;
const EVENT_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    created: { type: 'string', format: 'date-time' },
    received_at: { type: 'string', format: 'date-time' },
    customer_id: { type: ['string', 'null'] },
    subscription_id: { type: ['string', 'null'] },
    account_id: { type: ['string', 'null'] },
    result: { type: 'string', enum: RESULTS },
    reason: { type: ['string', 'null'] },
    applied_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export function billingEventRoutes({ sql, paymentGraceMs, countBillingEvent, now }: AdminDeps): AdminRoute[] {
  if (paymentGraceMs === undefined) return [];
  return [
    {
      method: 'GET',
      path: '/admin/billing/events',
      summary:
        'Stripe events received on /v1/billing/stripe, newest first: applied, ignored (with why: an unknown customer, an older event…) or failed',
      query: {
        properties: {
          result: { type: 'string', enum: RESULTS },
          customer_id: { type: 'string', minLength: 1, maxLength: 255 },
          limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..500, default 100' },
        },
      },
      responses: {
        200: {
          description: 'The events',
          schema: { type: 'object', properties: { events: { type: 'array', items: EVENT_SCHEMA } } },
        },
      },
      async handle({ query }) {
        const limit = Math.min(500, Math.max(1, Number(query.limit ?? 100)));
        const events = await listBillingEvents(sql, {
          ...(query.result ? { result: query.result as BillingEventResult } : {}),
          ...(query.customer_id ? { customerId: query.customer_id } : {}),
          limit,
        });
        const iso = (d: Date | null) => d?.toISOString() ?? null;
        return {
          status: 200,
          json: {
            events: events.map((e) => ({
              id: e.id,
              type: e.type,
              created: iso(e.created),
              received_at: iso(e.receivedAt),
              customer_id: e.customerId,
              subscription_id: e.subscriptionId,
              account_id: e.accountId,
              result: e.result,
              reason: e.reason,
              applied_at: iso(e.appliedAt),
            })),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/billing/events/{id}/replay',
      summary:
        'Apply a recorded event that was ignored or failed again (after setting the customer id or fixing the policy); an applied one answers 409',
      responses: {
        200: {
          description: 'What the replay did',
          schema: {
            type: 'object',
            properties: { id: { type: 'string' }, result: { type: 'string' }, reason: { type: 'string' } },
          },
        },
      },
      async handle({ params, actor }) {
        const id = params.id!;
        const processed = await replayStripeEvent(sql, actor, id, {
          graceMs: paymentGraceMs,
          ...(now ? { now } : {}),
        });
        if (!processed) throw notFound('billing event', id);
        if (processed.result === 'duplicate')
          throw new HttpError(409, 'already_applied', 'Already applied', `event ${id} was applied already`);
        countBillingEvent?.(processed.type, processed.result);
        return { status: 200, json: { id, result: processed.result, reason: processed.reason } };
      },
    },
  ];
}
