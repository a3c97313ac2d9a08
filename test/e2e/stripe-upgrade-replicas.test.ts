// Plans follow payments across replicas: a free key past its quota gets 402; a signed
// customer.subscription.created for the pro price reaches replica A; replica B then allows the same key
// with the pro limits within one second (changeAccount's NOTIFY drops B's cached key), measured and printed.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeAccount } from '../../src/accounts/account-changes.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { deleteAccountKeys } from '../support/redis-keys.js';
import { PRO_PRICE, sendEvent, subscriptionEvent, WEBHOOK_SECRET } from '../support/stripe-events.js';
import {
  prepareDatabase,
  REDIS_URL,
  startTollgate,
  type PreparedDatabase,
  type TestTollgate,
} from '../support/tollgate.js';

const POLICY = `
tiers:
  free:
    limits: [{ name: per-minute, algorithm: sliding_window, limit: 100, window: 60s }]
    quota: { requests: 3, period: month }
  pro:
    limits: [{ name: burst, algorithm: token_bucket, limit: 60, window: 60s, burst: 20 }]
    quota: { requests: 10000, period: month, overage: allow }
    stripe_prices: [${PRO_PRICE}]
    rank: 1
`;

describe('a Stripe upgrade reaches every replica', () => {
  let db: PreparedDatabase;
  let a: TestTollgate;
  let b: TestTollgate;
  const customer = `cus_e2e${Date.now().toString(36)}`;
  beforeAll(async () => {
    db = await prepareDatabase({ policyYaml: POLICY, accounts: [{ label: 'shop', tier: 'free' }] });
    const sql = new PostgresSql(db.url);
    await changeAccount(sql, 'test', db.accounts.shop!, { billingCustomerId: customer });
    await sql.close();
    const env = { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET };
    a = await startTollgate({ accounts: [], database: db, env });
    b = await startTollgate({ accounts: [], database: db, env });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    const redis = new Redis(REDIS_URL);
    if (db) await deleteAccountKeys(redis, Object.values(db.accounts));
    redis.disconnect();
    await db?.drop();
  });

  // Envoy's raw HTTP ext_authz mode: the answer carries the status the client sees (200 = allowed).
  const check = (port: number) =>
    fetch(`http://127.0.0.1:${port}/ext_authz/v1/items`, { headers: { 'x-api-key': db.keys.shop! } });

  it('402 on free past the quota; allowed with the pro limits on replica B within a second of the event on A', async () => {
    for (let i = 0; i < 3; i++) expect((await check(b.httpPort)).status).toBe(200);
    const denied = await check(b.httpPort);
    expect(denied.status).toBe(402);
    expect(denied.headers.get('ratelimit-policy')).toContain('"monthly-quota";q=3');

    const started = performance.now();
    const event = subscriptionEvent('created', {
      customer,
      subscription: `sub_${customer}`,
      status: 'active',
      prices: [PRO_PRICE],
      created: Math.floor(Date.now() / 1000),
    });
    const answer = await sendEvent(a.httpPort, event);
    const answeredMs = performance.now() - started;
    expect(answer).toMatchObject({ status: 200, body: { result: 'applied' } });
    let allowed = await check(b.httpPort);
    while (allowed.status !== 200) {
      expect(allowed.status).toBe(402);
      expect(performance.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 2));
      allowed = await check(b.httpPort);
    }
    const ms = performance.now() - started;
    console.log(
      `subscription.created on replica A (answered 200 after ${answeredMs.toFixed(1)} ms) → allowed on pro by replica B after ${ms.toFixed(1)} ms`,
    );
    const policy = allowed.headers.get('ratelimit-policy') ?? '';
    expect(policy).toContain('"monthly-quota";q=10000');
    expect(policy).toContain('"burst";q=20');
    expect((await check(a.httpPort)).status).toBe(200);
  });
});
