// Inbound Stripe webhooks against real Postgres: every event type, signed with the `stripe` package's test
// helper, through the HTTP route with an injected clock; ordering, grace, replay and unknown customers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeAccount, openAccount } from '../../src/accounts/account-changes.js';
import { findAccount } from '../../src/accounts/account-queries.js';
import { readAudit } from '../../src/accounts/audit-log.js';
import { migrate } from '../../src/db/migrate.js';
import { Metrics } from '../../src/observability/metrics.js';
import { enforcePaymentGrace } from '../../src/payments/enforce-payment-grace.js';
import { startPaymentGraceCheck } from '../../src/payments/start-payment-grace-check.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';
import { createAdminServer } from '../../src/transports/admin/admin-server.js';
import { createStripeWebhookRoute } from '../../src/transports/http/stripe-webhook-route.js';
import { freshPostgres, type FreshPostgres } from '../support/databases.js';
import {
  ENTERPRISE_PRICE,
  invoiceEvent,
  PRO_PRICE,
  sendEvent,
  STRIPE_POLICY_YAML,
  subscriptionEvent,
} from '../support/stripe-events.js';

const GRACE_MS = 3 * 86_400_000;
const ADMIN_TOKEN = 'stripe-test-admin-token-0123';
const clock = { ms: Date.UTC(2026, 0, 10, 12) };
const sec = (offset = 0) => Math.floor(clock.ms / 1000) + offset;

describe('POST /v1/billing/stripe', () => {
  let db: FreshPostgres;
  let server: Server;
  let admin: Server;
  let port: number;
  let adminPort: number;
  const metrics = new Metrics({ processMetrics: false });
  let customers = 0;

  beforeAll(async () => {
    db = await freshPostgres();
    await migrate(db.sql);
    await savePolicy(db.sql, parsePolicy(STRIPE_POLICY_YAML));
    const route = createStripeWebhookRoute({
      sql: db.sql,
      secret: 'whsec_test_0123456789abcdef',
      graceMs: GRACE_MS,
      now: () => clock.ms,
      onResult: (type, result) => metrics.billingEvents.get(type, result).value++,
    });
    server = createServer((req, res) => void route(req, res));
    admin = createAdminServer({
      sql: db.sql,
      adminToken: ADMIN_TOKEN,
      paymentGraceMs: GRACE_MS,
      now: () => clock.ms,
    });
    port = await listen(server);
    adminPort = await listen(admin);
  });
  afterAll(async () => {
    server?.close();
    admin?.close();
    await db?.drop();
  });

  /** A free account with a fresh Stripe customer id. */
  async function customer(): Promise<{ account: string; customer: string }> {
    const id = `cus_test${++customers}x${Date.now().toString(36)}`;
    const { id: account } = await openAccount(db.sql, 'test', { name: id, tier: 'free' });
    await changeAccount(db.sql, 'test', account, { billingCustomerId: id });
    return { account, customer: id };
  }
  const accountOf = async (id: string) => (await findAccount(db.sql, id))!;
  const sendSub = (
    type: 'created' | 'updated' | 'deleted',
    cus: string,
    subscription: string,
    status: string,
    offset: number,
    prices = [PRO_PRICE],
  ) =>
    sendEvent(
      port,
      subscriptionEvent(type, { customer: cus, subscription, status, prices, created: sec(offset) }),
      { signedAt: sec() },
    );
  /** A customer.subscription.created: `cus` subscribes to the pro price now. */
  const proCreated = (cus: string) =>
    subscriptionEvent('created', {
      customer: cus,
      subscription: `sub_${cus}`,
      status: 'active',
      prices: [PRO_PRICE],
      created: sec(),
    });
  const sendInvoice = (type: 'payment_failed' | 'paid', cus: string, offset = 0) =>
    sendEvent(port, invoiceEvent(type, { customer: cus, created: sec(offset) }), { signedAt: sec() });
  const outboxOf = (account: string) =>
    db.sql.query<{ payload: { from: string; to: string; cause: string } }>(
      "select payload from outbox where kind = 'tier.changed' and account_id = $1 order by id",
      [account],
    );

  it('the stored policy keeps the Stripe mapping (save → load equals the parsed file)', async () => {
    expect(await loadPolicy(db.sql)).toStrictEqual(parsePolicy(STRIPE_POLICY_YAML));
    const withDefault = parsePolicy(`downgrade_tier: free\n${STRIPE_POLICY_YAML}`);
    await savePolicy(db.sql, withDefault);
    expect(await loadPolicy(db.sql)).toStrictEqual(withDefault);
    await savePolicy(db.sql, parsePolicy(STRIPE_POLICY_YAML));
    expect((await loadPolicy(db.sql)).downgradeTier).toBeUndefined();
  });

  it('subscription.created for the pro price moves the account to pro, audited, with a tier.changed row', async () => {
    const { account, customer: cus } = await customer();
    const event = proCreated(cus);
    const answer = await sendEvent(port, event, { signedAt: sec() });
    expect(answer).toMatchObject({ status: 200, body: { result: 'applied', id: event.id } });
    expect((await accountOf(account)).tier).toBe('pro');
    const audit = (await readAudit(db.sql, account)).filter((r) => r.actor === `stripe:${event.id}`);
    expect(audit.map((r) => r.details)).toEqual([{ changes: { tier: { from: 'free', to: 'pro' } } }]);
    expect((await outboxOf(account)).map((r) => r.payload)).toMatchObject([
      { from: 'free', to: 'pro', cause: `stripe:${event.id}` },
    ]);

    const again = await sendEvent(port, event, { signedAt: sec() });
    expect(again).toMatchObject({ status: 200, body: { result: 'duplicate' } });
    expect(await outboxOf(account)).toHaveLength(1);
    expect((await readAudit(db.sql, account)).filter((r) => r.actor === `stripe:${event.id}`)).toHaveLength(
      1,
    );
  });

  it('refuses a bad signature and an old timestamp with 400 problem+json, recording nothing', async () => {
    const { account, customer: cus } = await customer();
    const event = proCreated(cus);
    const forged = await sendEvent(port, event, { signedAt: sec(), secret: 'whsec_someone_else' });
    expect(forged).toMatchObject({ status: 400, body: { code: 'invalid_signature' } });
    const stale = await sendEvent(port, event, { signedAt: sec(-301) });
    expect(stale).toMatchObject({ status: 400, body: { code: 'timestamp_too_old' } });
    const unsigned = await fetch(`http://127.0.0.1:${port}/v1/billing/stripe`, {
      method: 'POST',
      body: JSON.stringify(event),
    });
    expect(unsigned.status).toBe(400);
    expect(unsigned.headers.get('content-type')).toContain('application/problem+json');
    const tooBig = await fetch(`http://127.0.0.1:${port}/v1/billing/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': 't=1,v1=00' },
      body: 'x'.repeat(300 * 1024),
    });
    expect(tooBig.status).toBe(413);
    expect(await db.sql.query('select id from stripe_events where id = $1', [event.id])).toEqual([]);
    expect((await accountOf(account)).tier).toBe('free');
  });

  it('several items: the highest-ranked tier; canceled, unpaid and deleted fall back to free', async () => {
    const { account, customer: cus } = await customer();
    const sub = `sub_${cus}`;
    await sendSub('created', cus, sub, 'trialing', -100, [PRO_PRICE, ENTERPRISE_PRICE]);
    expect((await accountOf(account)).tier).toBe('enterprise');
    await sendSub('updated', cus, sub, 'canceled', -90);
    expect((await accountOf(account)).tier).toBe('free');
    await sendSub('updated', cus, sub, 'active', -80);
    expect((await accountOf(account)).tier).toBe('pro');
    await sendSub('updated', cus, sub, 'unpaid', -70);
    expect((await accountOf(account)).tier).toBe('free');
    await sendSub('updated', cus, sub, 'active', -60);
    expect((await accountOf(account)).tier).toBe('pro');
    expect((await sendSub('deleted', cus, sub, 'canceled', -50)).body.result).toBe('applied');
    expect((await accountOf(account)).tier).toBe('free');
    expect((await outboxOf(account)).map((r) => `${r.payload.from}→${r.payload.to}`)).toEqual([
      'free→enterprise',
      'enterprise→free',
      'free→pro',
      'pro→free',
      'free→pro',
      'pro→free',
    ]);
  });

  it('out of order: the newest event.created wins, deleted wins a tie, an older event changes nothing', async () => {
    const { account, customer: cus } = await customer();
    const sub = `sub_${cus}`;
    await sendSub('updated', cus, sub, 'active', -50, [ENTERPRISE_PRICE]);
    const older = await sendSub('created', cus, sub, 'active', -60);
    expect(older.body).toMatchObject({ result: 'ignored' });
    expect(String(older.body.reason)).toMatch(/^older than evt_/);
    expect((await accountOf(account)).tier).toBe('enterprise');

    await sendSub('deleted', cus, sub, 'canceled', -40);
    expect((await sendSub('updated', cus, sub, 'active', -45)).body.result).toBe('ignored');
    expect((await sendSub('updated', cus, sub, 'active', -40)).body.result).toBe('ignored'); // a tie
    expect((await accountOf(account)).tier).toBe('free');

    // The other arrival order of a tie: updated first, then deleted with the same created → deleted.
    await sendSub('updated', cus, `${sub}b`, 'active', -30);
    expect((await accountOf(account)).tier).toBe('pro');
    expect((await sendSub('deleted', cus, `${sub}b`, 'canceled', -30)).body.result).toBe('applied');
    expect((await accountOf(account)).tier).toBe('free');
  });

  it('past_due keeps the tier during the grace, then the grace check downgrades', async () => {
    const { account, customer: cus } = await customer();
    const sub = `sub_${cus}`;
    await sendSub('created', cus, sub, 'active', -10);
    const pastDue = await sendSub('updated', cus, sub, 'past_due', 0);
    expect(String(pastDue.body.reason)).toContain('past_due: tier kept until');
    expect(await enforcePaymentGrace(db.sql, GRACE_MS, clock.ms + GRACE_MS - 1000)).toMatchObject({
      downgraded: 0,
    });
    expect((await accountOf(account)).tier).toBe('pro');
    const result = await enforcePaymentGrace(db.sql, GRACE_MS, clock.ms + GRACE_MS);
    expect(result.downgraded).toBeGreaterThanOrEqual(1);
    expect((await accountOf(account)).tier).toBe('free');
    expect((await readAudit(db.sql, account))[0]).toMatchObject({
      actor: 'billing:grace',
      details: { changes: { tier: { from: 'pro', to: 'free' } } },
    });
  });

  it('payment failed → suspended after the grace (injected clock) → paid → active; an operator suspension stays', async () => {
    const { account, customer: cus } = await customer();
    expect((await sendInvoice('payment_failed', cus)).body).toMatchObject({ result: 'applied' });
    await enforcePaymentGrace(db.sql, GRACE_MS, clock.ms + GRACE_MS - 1000);
    expect((await accountOf(account)).status).toBe('active');
    await enforcePaymentGrace(db.sql, GRACE_MS, clock.ms + GRACE_MS);
    expect((await accountOf(account)).status).toBe('suspended');

    const start = clock.ms;
    clock.ms += GRACE_MS + 60_000;
    try {
      const paid = await sendInvoice('paid', cus);
      expect(paid.body).toMatchObject({
        result: 'applied',
        reason: 'payment failure closed: suspension lifted',
      });
      expect((await accountOf(account)).status).toBe('active');

      // An operator suspends; a failure (already past its grace) and a payment must not lift that suspension.
      const other = await customer();
      await changeAccount(db.sql, 'admin:support', other.account, { status: 'suspended' });
      await sendInvoice('payment_failed', other.customer, -GRACE_MS / 1000 - 10);
      const paidToo = await sendInvoice('paid', other.customer);
      expect(String(paidToo.body.reason)).toContain('the suspension an operator set stays');
      expect((await accountOf(other.account)).status).toBe('suspended');
    } finally {
      clock.ms = start;
    }
  });

  it('the background grace check suspends on its own once the grace has passed', async () => {
    const { account, customer: cus } = await customer();
    await sendInvoice('payment_failed', cus);
    const check = startPaymentGraceCheck({
      sql: db.sql,
      graceMs: GRACE_MS,
      logger: createLogger('silent'),
      intervalMs: 20,
      now: () => clock.ms + GRACE_MS,
    });
    try {
      const started = Date.now();
      while ((await accountOf(account)).status !== 'suspended') {
        expect(Date.now() - started).toBeLessThan(5000);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await check.stop();
    }
  });

  it('an unknown customer is recorded and reported (200, no retry loop); replay after the fix applies once', async () => {
    const cus = `cus_unknown${Date.now().toString(36)}`;
    const event = proCreated(cus);
    const answer = await sendEvent(port, event, { signedAt: sec() });
    expect(answer).toMatchObject({ status: 200, body: { result: 'unknown_customer' } });
    const listed = await adminGet(`/admin/billing/events?result=ignored&customer_id=${cus}`);
    expect(listed.events).toMatchObject([{ id: event.id, result: 'ignored', account_id: null }]);
    expect(listed.events[0]?.reason).toContain(`unknown customer ${cus}`);

    const { id: account } = await openAccount(db.sql, 'test', { name: 'late', tier: 'free' });
    await changeAccount(db.sql, 'test', account, { billingCustomerId: cus });
    const replay = await adminPost(`/admin/billing/events/${event.id}/replay`);
    expect(replay).toMatchObject({ status: 200, body: { result: 'applied' } });
    expect((await accountOf(account)).tier).toBe('pro');
    expect((await adminPost(`/admin/billing/events/${event.id}/replay`)).status).toBe(409);
    expect((await sendEvent(port, event, { signedAt: sec() })).body.result).toBe('duplicate');
    expect(await outboxOf(account)).toHaveLength(1);
    expect((await adminPost('/admin/billing/events/evt_nope/replay')).status).toBe(404);
    const [applied] = (await adminGet(`/admin/billing/events?customer_id=${cus}`)).events;
    expect(applied).toMatchObject({ result: 'applied', account_id: account });
  });

  it('an unhandled type is ignored; events are counted by type and result', async () => {
    const answer = await sendEvent(
      port,
      {
        id: 'evt_other1',
        type: 'checkout.session.completed',
        created: sec(),
        data: { object: { id: 'cs_1' } },
      },
      { signedAt: sec() },
    );
    expect(answer.body).toMatchObject({ result: 'ignored', reason: 'event type not handled' });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'tollgate_billing_events_total{type="customer.subscription.created",result="applied"}',
    );
    expect(text).toContain('tollgate_billing_events_total{type="unknown",result="rejected"} 3');
    expect(text).toContain(
      'tollgate_billing_events_total{type="checkout.session.completed",result="ignored"} 1',
    );
  });

  it('the billing routes are in the OpenAPI route table', async () => {
    const response = await fetch(`http://127.0.0.1:${adminPort}/admin/openapi.json`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const paths = ((await response.json()) as { paths: Record<string, Record<string, unknown>> }).paths;
    expect(Object.keys(paths['/admin/billing/events'] ?? {})).toEqual(['get']);
    expect(Object.keys(paths['/admin/billing/events/{id}/replay'] ?? {})).toEqual(['post']);
  });

  async function adminGet(path: string): Promise<{ events: Array<Record<string, string | null>> }> {
    const response = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { events: Array<Record<string, string | null>> };
  }
  async function adminPost(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}
