// Stripe webhook events for tests, shaped like Stripe's and signed with the `stripe` package's own helper.

import Stripe from 'stripe';
import { DEMO_POLICY_YAML } from './tollgate.js';

export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef';
export const PRO_PRICE = 'price_pro_monthly';
export const PRO_YEARLY_PRICE = 'price_pro_yearly';
export const ENTERPRISE_PRICE = 'price_enterprise';

/** The demo policy with pro and enterprise sold through Stripe (free is the default downgrade tier). */
export const STRIPE_POLICY_YAML = DEMO_POLICY_YAML.replace(
  '    price: { monthly: 49.00, overage_per_1000: 0.50, currency: usd }\n',
  `    price: { monthly: 49.00, overage_per_1000: 0.50, currency: usd }\n    stripe_prices: [${PRO_PRICE}, ${PRO_YEARLY_PRICE}]\n    rank: 1\n`,
).replace(
  '    quota: unlimited\n',
  `    quota: unlimited\n    stripe_prices: [${ENTERPRISE_PRICE}]\n    rank: 2\n`,
);

let counter = 0;
const nextId = (prefix: string) => `${prefix}_test${Date.now().toString(36)}${(++counter).toString(36)}`;

export function subscriptionEvent(
  type: 'created' | 'updated' | 'deleted',
  opts: {
    customer: string;
    subscription: string;
    status: string;
    prices: string[];
    created: number;
    id?: string;
  },
): Record<string, unknown> {
  return {
    id: opts.id ?? nextId('evt'),
    object: 'event',
    type: `customer.subscription.${type}`,
    created: opts.created,
    livemode: false,
    data: {
      object: {
        id: opts.subscription,
        object: 'subscription',
        customer: opts.customer,
        status: opts.status,
        items: {
          object: 'list',
          data: opts.prices.map((price) => ({
            id: nextId('si'),
            object: 'subscription_item',
            price: { id: price },
          })),
        },
      },
    },
  };
}

export function invoiceEvent(
  type: 'payment_failed' | 'paid',
  opts: { customer: string; created: number; id?: string },
): Record<string, unknown> {
  return {
    id: opts.id ?? nextId('evt'),
    object: 'event',
    type: `invoice.${type}`,
    created: opts.created,
    data: {
      object: {
        id: nextId('in'),
        object: 'invoice',
        customer: opts.customer,
        status: type === 'paid' ? 'paid' : 'open',
      },
    },
  };
}

/** POSTs the event to /v1/billing/stripe, signed at `signedAt` (seconds; default now). */
export async function sendEvent(
  port: number,
  event: Record<string, unknown>,
  opts: { signedAt?: number; secret?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
    ...(opts.signedAt !== undefined ? { timestamp: opts.signedAt } : {}),
  });
  const response = await fetch(`http://127.0.0.1:${port}/v1/billing/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
