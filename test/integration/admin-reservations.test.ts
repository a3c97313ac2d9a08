// The admin API's reservation routes on real Postgres and Redis: list an account's open
// reservations, settle one at its actual units, cancel one; unknown ids and bad bodies answered.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';
import { REDIS_URL, startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

const POLICY = `
tiers:
  pro: { quota: { requests: 1000000, period: month } }
  capped:
    limits: [{ name: tokens-per-minute, unit: tokens, limit: 1000, window: 60s }]
    quota: { requests: 1000000, period: month }
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    metering: { unit: tokens, reserve: 100, reserve_header: x-reserve-units, max_reserve: 1000 }
`;

let tg: TestTollgate;
beforeAll(async () => {
  tg = await startTollgate({
    policyYaml: POLICY,
    accounts: [
      { label: 'pro', tier: 'pro' },
      { label: 'capped', tier: 'capped' },
    ],
  });
});
afterAll(() => tg?.stop());

/** One metered call as nginx asks about it. */
function check(reserve: number | undefined, label = 'pro'): Promise<Response> {
  const headers: Record<string, string> = {
    'x-original-uri': '/v1/chat/completions',
    'x-original-method': 'POST',
    'x-api-key': tg.keys[label]!,
  };
  if (reserve !== undefined) headers['x-reserve-units'] = String(reserve);
  return fetch(`http://127.0.0.1:${tg.httpPort}/check`, { headers });
}

/** An allowed metered call's reservation, as Tollgate would send it upstream. */
async function chat(reserve?: number): Promise<string> {
  const res = await check(reserve);
  expect(res.status).toBe(204);
  return res.headers.get('x-tollgate-reservation')!;
}

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${tg.adminPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('admin reservations', () => {
  it('lists open reservations, settles and cancels them once', async () => {
    const a = await chat(400);
    const b = await chat();
    const listed = await admin('GET', `/admin/accounts/${tg.accounts.pro}/reservations`);
    expect(listed.status).toBe(200);
    expect(listed.body.reservations.map((r: { id: string }) => r.id).sort()).toEqual([a, b].sort());
    expect(listed.body.reservations.find((r: { id: string }) => r.id === a)).toMatchObject({
      endpoint: 'chat',
      units: 400,
    });

    expect(await admin('POST', `/admin/reservations/${a}/settle`, { units: 250 })).toEqual({
      status: 200,
      body: { outcome: 'settled', reserved: 400, units: 250 },
    });
    expect(await admin('POST', `/admin/reservations/${a}/settle`, { units: 1 })).toEqual({
      status: 200,
      body: { outcome: 'already_settled' },
    });
    expect(await admin('POST', `/admin/reservations/${b}/cancel`)).toEqual({
      status: 200,
      body: { outcome: 'settled', reserved: 100, units: 0 },
    });
    const after = await admin('GET', `/admin/accounts/${tg.accounts.pro}/reservations`);
    expect(after.body.reservations).toEqual([]);
    // The quota holds the settled units only: 250 + 0.
    const me = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, {
      headers: { 'x-api-key': tg.keys.pro! },
    });
    expect(((await me.json()) as { quota: { used: number } }).quota.used).toBe(250);
  });

  it('answers unknown ids 404 and bad bodies 400 naming the field', async () => {
    const unknown = await admin('POST', '/admin/reservations/nope/settle', { units: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('unknown_reservation');
    const id = await chat();
    const bad = await admin('POST', `/admin/reservations/${id}/settle`, { units: -3 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('units');
    expect((await admin('GET', '/admin/accounts/no-such-account/reservations')).status).toBe(404);
  });

  it('the CLI lists, settles and cancels against the same Redis', async () => {
    const env = { DATABASE_URL: tg.databaseUrl, REDIS_URL };
    const a = await chat(700);
    const b = await chat();
    const listed = await runCli(['reservations', 'list', '--account', tg.accounts.pro!, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const ids = (JSON.parse(listed.stdout) as Array<{ id: string }>).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([a, b]));
    const settled = await runCli(['reservations', 'settle', a, '--units', '650'], env);
    expect(settled.stdout).toContain('settled: 700 reserved → 650 units');
    const cancelled = await runCli(['reservations', 'cancel', b, '--json'], env);
    expect(JSON.parse(cancelled.stdout)).toEqual({ outcome: 'settled', reserved: 100, units: 0 });
    const again = await runCli(['reservations', 'cancel', b], env);
    expect(again.stdout).toContain('already settled');
    const unknown = await runCli(['reservations', 'settle', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no such reservation');
    const bad = await runCli(['reservations', 'settle', a, '--units', '-1'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--units');
  });

  it('a limit with a unit counts the reserved units, not calls', async () => {
    // tokens-per-minute: 1000. 600 + 300 fit; 200 more do not (one call left, but not the units).
    expect((await check(600, 'capped')).status).toBe(204);
    const second = await check(300, 'capped');
    expect(second.status).toBe(204);
    expect(second.headers.get('ratelimit')).toContain('"tokens-per-minute";r=100;');
    const denied = await check(200, 'capped');
    expect(denied.status).toBe(403); // nginx reads X-Tollgate-Status
    expect(denied.headers.get('x-tollgate-status')).toBe('429');
    expect(denied.headers.get('ratelimit-policy')).toContain('"tokens-per-minute";q=1000;w=60');
  });
});
