// The shipped nginx config routes Stripe's webhook to Tollgate without auth_request: a signed event with no
// API key reaches /v1/billing/stripe and is applied; the app behind nginx never sees it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeAccount } from '../../src/accounts/account-changes.js';
import { findAccount } from '../../src/accounts/account-queries.js';
import { startNginx, type TestNginx } from '../support/nginx.js';
import {
  PRO_PRICE,
  sendEvent,
  STRIPE_POLICY_YAML,
  subscriptionEvent,
  WEBHOOK_SECRET,
} from '../support/stripe-events.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';

describe('nginx → /v1/billing/stripe', () => {
  let tollgate: TestTollgate | undefined;
  let upstream: TestUpstream | undefined;
  let nginx: TestNginx | undefined;
  beforeAll(async () => {
    tollgate = await startTollgate({
      policyYaml: STRIPE_POLICY_YAML,
      accounts: [{ label: 'shop', tier: 'free' }],
      store: 'memory',
      env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    upstream = await startUpstream();
    nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: upstream.port });
  });
  afterAll(async () => {
    await nginx?.stop();
    await upstream?.stop();
    await tollgate?.stop();
  });

  it('a signed event without an API key is applied by Tollgate; a forged one gets 400', async () => {
    const account = tollgate!.accounts.shop!;
    await changeAccount(tollgate!.app.sql, 'test', account, { billingCustomerId: 'cus_nginx1' });
    const event = subscriptionEvent('created', {
      customer: 'cus_nginx1',
      subscription: 'sub_nginx1',
      status: 'active',
      prices: [PRO_PRICE],
      created: Math.floor(Date.now() / 1000),
    });
    expect(await sendEvent(nginx!.port, event)).toMatchObject({ status: 200, body: { result: 'applied' } });
    expect((await findAccount(tollgate!.app.sql, account))?.tier).toBe('pro');
    const forged = await sendEvent(nginx!.port, event, { secret: 'whsec_forged' });
    expect(forged).toMatchObject({ status: 400, body: { code: 'invalid_signature' } });
    expect(upstream!.requests).toEqual([]);
  });

  it('without STRIPE_WEBHOOK_SECRET Tollgate does not serve the path', async () => {
    const plain = await startTollgate({ accounts: [], store: 'memory' });
    try {
      const response = await fetch(`http://127.0.0.1:${plain.httpPort}/v1/billing/stripe`, {
        method: 'POST',
        body: '{}',
      });
      expect(response.status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
