// Policy objects for unit tests that must not depend on the YAML parser.

import type { Policy } from '../../src/policy/policy.js';

/** The demo policy (src/policy/demo-policy.yaml), as the parser produces it. */
export function demoPolicy(): Policy {
  return {
    tiers: {
      free: {
        name: 'free',
        limits: [
          { name: 'per-minute', algorithm: 'sliding_window', limit: 10, windowMs: 60_000, shadow: false },
        ],
        quota: { units: 100, overage: false },
        creditsPerRequest: 0,
        upgradeUrl: 'https://example.com/pricing',
      },
      pro: {
        name: 'pro',
        limits: [
          { name: 'burst', algorithm: 'token_bucket', limit: 60, windowMs: 60_000, burst: 20, shadow: false },
        ],
        quota: { units: 10_000, overage: true },
        creditsPerRequest: 0,
        price: { monthly: 49, overagePer1000: 0.5, currency: 'usd', firstMonth: 'full' },
      },
      enterprise: {
        name: 'enterprise',
        limits: [
          { name: 'per-second', algorithm: 'fixed_window', limit: 300, windowMs: 1000, shadow: false },
        ],
        quota: null,
        creditsPerRequest: 0,
      },
    },
    endpoints: [
      {
        name: 'chat',
        methods: ['POST'],
        path: '/v1/chat/**',
        cost: 5,
        metering: {
          unit: 'tokens',
          reserve: 5,
          reserveHeader: 'x-reserve-tokens',
          maxReserve: 500,
          settleWithinMs: 600_000,
        },
        overrides: {
          free: {
            allowed: true,
            limits: [
              { name: 'chat-minute', algorithm: 'sliding_window', limit: 5, windowMs: 60_000, shadow: false },
            ],
          },
          pro: {
            allowed: true,
            limits: [
              {
                name: 'chat-minute',
                algorithm: 'sliding_window',
                limit: 30,
                windowMs: 60_000,
                shadow: false,
              },
            ],
          },
        },
      },
      {
        name: 'export',
        methods: [],
        path: '/v1/export/**',
        cost: 1,
        overrides: { free: { allowed: false, limits: [] } },
      },
    ],
  };
}
