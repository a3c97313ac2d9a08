// Inbound Stripe webhook → the few facts Tollgate acts on; anything else in the event is kept, not read.

/** The event types that change an account; others are recorded as ignored. */
export const HANDLED_TYPES = [
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.payment_failed',
  'invoice.paid',
] as const;
export type HandledType = (typeof HANDLED_TYPES)[number];

export interface StripeEventFacts {
  id: string;
  type: string;
  /** event.created, ms since the epoch (Stripe sends seconds). */
  createdMs: number;
  customerId: string | null;
  subscriptionId: string | null;
  /** Subscription events: the subscription's status (`deleted` for customer.subscription.deleted). */
  status: string | null;
  /** Subscription events: the price id of every item. */
  priceIds: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : isObject(v) && typeof v.id === 'string' ? v.id : null;
const ID = /^[A-Za-z0-9_]{1,255}$/;

/** The facts, or a message saying which field is missing or malformed (answered as 400). */
export function readStripeEvent(event: unknown): StripeEventFacts | string {
  if (!isObject(event)) return 'the body is not a JSON object';
  if (typeof event.id !== 'string' || !ID.test(event.id)) return 'id: expected an event id like evt_…';
  if (typeof event.type !== 'string' || event.type.length > 100) return 'type: expected a string';
  if (typeof event.created !== 'number' || !Number.isSafeInteger(event.created) || event.created < 0)
    return 'created: expected seconds since the epoch';
  const object = isObject(event.data) ? event.data.object : undefined;
  if (!isObject(object)) return 'data.object: expected an object';
  const facts: StripeEventFacts = {
    id: event.id,
    type: event.type,
    createdMs: event.created * 1000,
    customerId: idOf(object.customer),
    subscriptionId: null,
    status: null,
    priceIds: [],
  };
  if (event.type.startsWith('customer.subscription.')) {
    facts.subscriptionId = idOf(object.id);
    facts.status = event.type === 'customer.subscription.deleted' ? 'deleted' : String(object.status ?? '');
    const items = isObject(object.items) && Array.isArray(object.items.data) ? object.items.data : [];
    for (const item of items) {
      const price = isObject(item) ? idOf(item.price) : null;
      if (price) facts.priceIds.push(price);
    }
  }
  for (const [name, value] of [
    ['customer', facts.customerId],
    ['subscription', facts.subscriptionId],
  ] as const) {
    if (value !== null && !ID.test(value)) return `data.object.${name}: expected an id`;
  }
  return facts;
}

export function isHandledType(type: string): type is HandledType {
  return (HANDLED_TYPES as readonly string[]).includes(type);
}
