import { describe, expect, it } from 'vitest';
import { decisionFromCounters } from '../../src/access/decision-from-counters.js';
import type { DecideResult } from '../../src/counters/counter-store.js';
import { PolicyResolver } from '../../src/policy/policy-resolver.js';
import { renderDecision } from '../../src/transports/headers.js';
import { demoPolicy } from '../support/policies.js';

const identity = { accountId: 'acc_1', keyId: 'key_1', tier: 'free' };
const request = {
  keyHeader: 'x-api-key' as const,
  spoofedHeaders: ['x-tollgate-account', 'x-tollgate-admin'],
};
const chat = new PolicyResolver(demoPolicy()).resolve('free', 'POST', '/v1/chat/x')!;
const period = { periodStartMs: Date.UTC(2026, 10, 1), periodEndMs: Date.UTC(2026, 11, 1) };
const nowMs = Date.UTC(2026, 10, 21, 12, 0, 0);

function result(overrides: Partial<DecideResult>): DecideResult {
  return {
    allowed: true,
    nowMs,
    limits: [
      { name: 'per-minute', state: 'ok', remaining: 7, resetMs: 30_500, retryAfterMs: 0 },
      { name: 'chat-minute', state: 'ok', remaining: 2, resetMs: 30_500, retryAfterMs: 0 },
    ],
    quota: { state: 'ok', limit: 100, used: 20, remaining: 80, ...period },
    credits: null,
    ...overrides,
  };
}

describe('decisionFromCounters + renderDecision', () => {
  it('allow: IETF fields for every policy, X-RateLimit for the tightest, identity upstream, key and spoofed headers removed', () => {
    const rendered = renderDecision(decisionFromCounters(identity, chat, result({})), request);
    expect(rendered.status).toBe(200);
    expect(rendered.body).toBe('');
    expect(Object.fromEntries(rendered.clientHeaders)).toEqual({
      'ratelimit-policy': '"per-minute";q=10;w=60, "chat-minute";q=5;w=60, "monthly-quota";q=100;w=2592000',
      ratelimit: '"per-minute";r=7;t=31, "chat-minute";r=2;t=31, "monthly-quota";r=80;t=820800',
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '31',
    });
    expect(rendered.upstreamHeaders).toEqual([
      ['x-tollgate-account', 'acc_1'],
      ['x-tollgate-key-id', 'key_1'],
      ['x-tollgate-tier', 'free'],
      ['x-tollgate-endpoint', 'chat'],
    ]);
    // x-tollgate-account is overwritten (set), so only the other spoofed header needs removing.
    expect(rendered.removeHeaders).toEqual(['x-api-key', 'authorization', 'x-tollgate-admin']);
  });

  it('429: names the violated policy, Retry-After never earlier than its t, problem+json body', () => {
    const limits = [
      { name: 'per-minute', state: 'ok' as const, remaining: 7, resetMs: 30_500, retryAfterMs: 0 },
      { name: 'chat-minute', state: 'denied' as const, remaining: 0, resetMs: 30_500, retryAfterMs: 12_001 },
    ];
    const decision = decisionFromCounters(identity, chat, result({ allowed: false, limits }));
    const rendered = renderDecision(decision, request);
    const headers = Object.fromEntries(rendered.clientHeaders);
    expect(rendered.status).toBe(429);
    expect(headers['retry-after']).toBe('13');
    expect(headers['ratelimit']).toContain('"chat-minute";r=0;t=13');
    expect(headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(rendered.body)).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Rate limit exceeded',
      status: 429,
      detail: 'Rate limit chat-minute exceeded; retry in 13 s.',
      code: 'rate_limit_exceeded',
      'violated-policies': ['chat-minute'],
      retry_after: 13,
    });
    expect(rendered.upstreamHeaders).toEqual([]);
  });

  it('402 quota: retry at the period end, upgrade link', () => {
    const quota = { state: 'denied' as const, limit: 100, used: 98, remaining: 2, ...period };
    const rendered = renderDecision(
      decisionFromCounters(identity, chat, result({ allowed: false, quota })),
      request,
    );
    const body = JSON.parse(rendered.body);
    expect(rendered.status).toBe(402);
    expect(body.code).toBe('quota_exceeded');
    expect(body.upgrade_url).toBe('https://example.com/pricing');
    expect(body['violated-policies']).toEqual(['monthly-quota']);
    expect(body.retry_after).toBe((period.periodEndMs - nowMs) / 1000);
  });

  it('402 credits, and 401 with WWW-Authenticate', () => {
    const credits = { state: 'denied' as const, balance: 3 };
    const decision = decisionFromCounters(identity, chat, result({ allowed: false, credits }));
    expect(decision.allowed === false && decision.code).toBe('insufficient_credits');
    const unauthenticated = renderDecision(
      {
        allowed: false,
        code: 'invalid_api_key',
        status: 401,
        detail: 'x',
        policies: [],
        violated: [],
        shadowDenied: [],
      },
      request,
    );
    expect(unauthenticated.status).toBe(401);
    expect(Object.fromEntries(unauthenticated.clientHeaders)['www-authenticate']).toBe(
      'Bearer realm="tollgate"',
    );
    expect(Object.fromEntries(unauthenticated.clientHeaders)['ratelimit']).toBeUndefined();
  });

  it('soft gate and shadow mode reach the upstream as flags', () => {
    const limits = [
      {
        name: 'per-minute',
        state: 'shadow_denied' as const,
        remaining: 0,
        resetMs: 1000,
        retryAfterMs: 1000,
      },
      { name: 'chat-minute', state: 'ok' as const, remaining: 2, resetMs: 30_500, retryAfterMs: 0 },
    ];
    const quota = { state: 'overage' as const, limit: 100, used: 105, remaining: 0, ...period };
    const rendered = renderDecision(decisionFromCounters(identity, chat, result({ limits, quota })), request);
    expect(rendered.upstreamHeaders).toContainEqual(['x-tollgate-overage', 'true']);
    expect(rendered.upstreamHeaders).toContainEqual(['x-tollgate-shadow-denied', 'per-minute']);
  });
});
