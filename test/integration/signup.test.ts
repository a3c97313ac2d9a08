// Public sign-up (POST /v1/signup) on the real app, Postgres and Redis: a working key once, one account
// per mailbox, clear 400s, audited, and limited per client address (429 + Retry-After).

import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;
const randomIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`;

async function signup(body: unknown, ip: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${tg.httpPort}/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `${ip}, 192.0.2.1` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

beforeAll(async () => {
  tg = await startTollgate({
    accounts: [],
    env: {
      SIGNUP_ENABLED: 'on',
      TRUST_PROXY: 'on',
      SIGNUP_PER_IP_PER_HOUR: '3',
      SIGNUP_GLOBAL_PER_MINUTE: '1000',
    },
  });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
});

describe('POST /v1/signup', () => {
  test('creates an account on the free tier, returns a working key once, audits it and stores no email', async () => {
    const email = `Some.One+promo${randomInt(1e9)}@Example.com`;
    const res = await signup({ email }, randomIp());
    expect(res.status).toBe(201);
    const body = (await res.json()) as { account_id: string; key: string; tier: string; upgrade_url: string };
    expect(body).toMatchObject({ tier: 'free', upgrade_url: 'https://example.com/pricing' });
    const me = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, { headers: { 'x-api-key': body.key } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ account_id: body.account_id, tier: 'free' });
    const audit = await sql.query<{ action: string; actor: string; details: Record<string, unknown> }>(
      'select action, actor, details from audit_log where target = $1',
      [body.account_id],
    );
    expect(audit).toEqual([
      { action: 'account.signup', actor: 'signup', details: expect.objectContaining({ tier: 'free' }) },
    ]);
    const dump =
      JSON.stringify(
        await sql.query(
          'select a.*, s.* from accounts a join signups s on s.account_id = a.id where a.id = $1',
          [body.account_id],
        ),
      ) + JSON.stringify(audit);
    expect(dump.toLowerCase()).not.toContain('example.com');
  });

  test('one mailbox, one account: case, +tags and gmail dots do not make a new one (409)', async () => {
    const n = randomInt(1e9);
    expect((await signup({ email: `jane.doe${n}@gmail.com` }, randomIp())).status).toBe(201);
    const again = await signup({ email: `Jane.Doe${n}+free2@GoogleMail.com` }, randomIp());
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'email_taken' });
    expect((await signup({ email: `j.a.n.e.d.o.e${n}@gmail.com` }, randomIp())).status).toBe(409);
  });

  test('bad bodies get a clear 400; other methods 405', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /must be JSON/],
      [{}, /email: is required/],
      [{ email: 'nope' }, /email address/],
      [{ email: 'a@b.co', name: 'x' }, /unknown field: name/],
      [[1], /JSON object/],
    ];
    for (const [body, detail] of cases) {
      const res = await signup(body, randomIp());
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
    }
    expect((await fetch(`http://127.0.0.1:${tg.httpPort}/v1/signup`)).status).toBe(405);
  });

  test('beyond the per-address limit: 429 with Retry-After; another address still signs up', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i++)
      expect((await signup({ email: `limit${randomInt(1e9)}@example.org` }, ip)).status).toBe(201);
    const refused = await signup({ email: `limit${randomInt(1e9)}@example.org` }, ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 'rate_limit_exceeded' });
    expect((await signup({ email: `limit${randomInt(1e9)}@example.org` }, randomIp())).status).toBe(201);
  });

  test('off by default: no /v1/signup route', async () => {
    const off = await startTollgate({ accounts: [] });
    try {
      expect(
        (await fetch(`http://127.0.0.1:${off.httpPort}/v1/signup`, { method: 'POST', body: '{}' })).status,
      ).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
