// The settle route while Redis does not answer: a bounded 503 with Retry-After, never a hang, and
// the same settle applied once when Redis is back.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { startRedisServer, type RedisProcess } from '../support/redis-server.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const SETTLE_TOKEN = 'settle-token-0123456789abcdef';
const POLICY = `
tiers:
  pro: { quota: { requests: 1000000, period: month } }
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    metering: { unit: tokens, reserve: 100 }
`;

let redis: RedisProcess;
let tg: TestTollgate;
beforeAll(async () => {
  redis = await startRedisServer();
  tg = await startTollgate({
    policyYaml: POLICY,
    accounts: [{ label: 'pro', tier: 'pro' }],
    env: { REDIS_URL: redis.url, SETTLE_TOKEN, REDIS_TIMEOUT_MS: '200' },
  });
});
afterAll(async () => {
  await tg?.stop();
  await redis?.stop();
});

const settle = (reservation: string, units: number) =>
  fetch(`http://127.0.0.1:${tg.httpPort}/internal/usage/settle`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SETTLE_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reservation, units }),
  });

test('a hung Redis answers the settle 503 within its timeout; once back, the settle applies once', async () => {
  const check = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
    headers: {
      'x-original-uri': '/v1/chat/completions',
      'x-original-method': 'POST',
      'x-api-key': tg.keys.pro!,
    },
  });
  expect(check.status).toBe(204);
  const reservation = check.headers.get('x-tollgate-reservation')!;

  redis.pause();
  try {
    const started = performance.now();
    const hung = await settle(reservation, 40);
    const ms = performance.now() - started;
    expect(hung.status).toBe(503);
    expect(hung.headers.get('retry-after')).toBe('1');
    expect(await hung.json()).toMatchObject({ code: 'unavailable' });
    expect(ms).toBeLessThan(2_000);
  } finally {
    redis.resume();
  }
  // The retry: applied once, whether or not the first one ran when Redis woke up.
  let answer: { outcome: string } | undefined;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const res = await settle(reservation, 40);
    if (res.status === 200) {
      answer = (await res.json()) as { outcome: string };
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(['settled', 'already_settled']).toContain(answer?.outcome);
  expect(await (await settle(reservation, 40)).json()).toEqual({ outcome: 'already_settled' });
  // /v1/me answers once the replica has seen Redis again (its probe ends the degraded state).
  let me = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, { headers: { 'x-api-key': tg.keys.pro! } });
  while (me.status === 503 && Date.now() < deadline + 5_000) {
    await new Promise((r) => setTimeout(r, 100));
    me = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, { headers: { 'x-api-key': tg.keys.pro! } });
  }
  expect(me.status).toBe(200);
  expect(((await me.json()) as { quota: { used: number } }).quota.used).toBe(40);
});
