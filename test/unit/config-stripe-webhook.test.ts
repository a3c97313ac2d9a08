// STRIPE_WEBHOOK_SECRET and PAYMENT_GRACE: off by default, 3 days of grace, a bad duration named.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('loadConfig: inbound Stripe webhooks', () => {
  it('is off without STRIPE_WEBHOOK_SECRET; the grace defaults to 3 days', () => {
    expect(loadConfig({}).stripeWebhook).toBeUndefined();
    expect(loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_x' }).stripeWebhook).toEqual({
      secret: 'whsec_x',
      graceMs: 3 * 86_400_000,
    });
    expect(
      loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_x', PAYMENT_GRACE: '36h' }).stripeWebhook?.graceMs,
    ).toBe(36 * 3_600_000);
    expect(loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_x', PAYMENT_GRACE: '0s' }).stripeWebhook?.graceMs).toBe(
      0,
    );
  });

  it('names PAYMENT_GRACE when it is not a duration, without echoing the secret', () => {
    expect(() => loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_hidden', PAYMENT_GRACE: 'three days' })).toThrow(
      /^PAYMENT_GRACE: expected a duration like 90s, 30m, 12h or 3d \(0s to 365d\) but got "three days"$/,
    );
  });
});
