// Public sign-up on the real app, Postgres, Redis and the signed webhook: 202 for any valid address (taken
// or new), the key only through the mailed one-time token, one account per mailbox across spellings,
// nothing in plaintext in any table, and limited per client address as the trusted proxy saw it.

import { randomInt } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { startFakeBilling, type FakeBilling } from '../support/fake-billing.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const SECRET = 'signup-secret-for-tests-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec-signup-tests-0123';
let tg: TestTollgate;
let sql: PostgresSql;
let mailer: FakeBilling;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * POST from a chosen local address: 127.0.0.1 is the trusted proxy (TRUSTED_PROXIES), any other
 * 127.x.y.z is a client calling Tollgate directly.
 */
function post(path: string, body: unknown, opts: { from?: string; xff?: string } = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: tg.httpPort,
        path,
        method: 'POST',
        localAddress: opts.from ?? '127.0.0.1',
        headers: {
          'content-type': 'application/json',
          ...(opts.xff ? { 'x-forwarded-for': opts.xff } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, body: raw ? JSON.parse(raw) : {} });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** A fresh client address as the proxy (127.0.0.1) reports it, after whatever the client wrote itself. */
const viaProxy = (client: string, spoofed = `203.0.113.${randomInt(256)}`) => ({
  xff: `${spoofed}, 127.0.0.1, ${client}`,
});
/**
 * A client address no earlier run has used: the per-address limit lives in the shared Redis for an
 * hour, so the /64 it falls in is drawn from 32 random bits (16 bits collided across runs).
 */
const randomClient = () => {
  const group = () => randomInt(65536).toString(16);
  return `2001:db8:${group()}:${group()}::${randomInt(1, 65536).toString(16)}`;
};

/** The signup.verify event the mailer got for `email` (canonical), waiting for the exporter. */
async function tokenFor(email: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const event of mailer.events.values()) {
      const data = event.body.data as { email?: string; token?: string };
      if (event.kind === 'signup.verify' && data.email === email) return data.token!;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no signup.verify event for ${email}`);
}

beforeAll(async () => {
  mailer = await startFakeBilling({ webhookSecret: WEBHOOK_SECRET });
  tg = await startTollgate({
    accounts: [],
    env: {
      SIGNUP_ENABLED: 'on',
      SIGNUP_SECRET: SECRET,
      TRUSTED_PROXIES: '127.0.0.1/32',
      SIGNUP_PER_IP_PER_HOUR: '3',
      SIGNUP_GLOBAL_PER_MINUTE: '1000',
      EXPORT_WEBHOOK_URL: `${mailer.url}/webhook`,
      EXPORT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      EXPORT_POLL_MS: '25',
    },
  });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
  await mailer.stop();
});

describe('POST /v1/signup and /v1/signup/confirm', () => {
  test('202, a token by signed webhook, the key only at confirmation (once), audited with the client address', async () => {
    const n = randomInt(1e9);
    const client = randomClient();
    const res = await post('/v1/signup', { email: `Some.One${n}+promo@Example.com` }, viaProxy(client));
    expect(res.status).toBe(202);
    expect(JSON.stringify(res.body)).not.toMatch(/key|acc_/);
    const token = await tokenFor(`some.one${n}@example.com`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const confirmed = await post('/v1/signup/confirm', { token }, viaProxy(randomClient()));
    expect(confirmed.status).toBe(201);
    const { account_id, key } = confirmed.body as { account_id: string; key: string };
    const me = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, { headers: { 'x-api-key': key } });
    expect(me.status).toBe(200);
    const again = await post('/v1/signup/confirm', { token }, viaProxy(randomClient()));
    expect(again).toMatchObject({ status: 400, body: { code: 'invalid_token' } });
    const [audit] = await sql.query<{ details: Record<string, unknown> }>(
      'select details from audit_log where target = $1 and action = $2',
      [account_id, 'account.signup'],
    );
    expect(audit!.details).toMatchObject({ tier: 'free', ip: client });
  });

  test('a taken address gets the very same answer as a new one, and no token', async () => {
    const n = randomInt(1e9);
    const email = `taken${n}@example.org`;
    const first = await post('/v1/signup', { email }, viaProxy(randomClient()));
    await post('/v1/signup/confirm', { token: await tokenFor(email) }, viaProxy(randomClient()));
    const tokensBefore = await sql.query('select token_hash from signup_tokens');
    const taken = await post('/v1/signup', { email }, viaProxy(randomClient()));
    const fresh = await post('/v1/signup', { email: `new${n}@example.org` }, viaProxy(randomClient()));
    for (const answer of [taken, fresh]) {
      expect(answer.status).toBe(first.status);
      expect(answer.body).toEqual(first.body);
      expect(answer.headers['content-type']).toBe(first.headers['content-type']);
    }
    // Only the new address got a token.
    expect((await sql.query('select token_hash from signup_tokens')).length).toBe(tokensBefore.length + 1);
  });

  test('spellings of one mailbox map to one account: quotes, zero-width, fullwidth, gmail subdomains, dots, +tags', async () => {
    const n = randomInt(1e9);
    await post('/v1/signup', { email: `jane.doe${n}@gmail.com` }, viaProxy(randomClient()));
    const confirmed = await post(
      '/v1/signup/confirm',
      { token: await tokenFor(`janedoe${n}@gmail.com`) },
      viaProxy(randomClient()),
    );
    expect(confirmed.status).toBe(201);
    const fullwidth = `janedoe${n}`.replace(/[a-z0-9]/g, (c) =>
      String.fromCodePoint(c.codePointAt(0)! + 0xfee0),
    );
    const variants = [
      `"jane.doe${n}"@gmail.com`,
      `ja\u200bne\u00addoe${n}@gmail.com`,
      `${fullwidth}＠ｇｍａｉｌ．ｃｏｍ`,
      `jane.doe${n}@mail.gmail.com`,
      `Jane.Doe${n}+free2@GoogleMail.com`,
      `j.a.n.e.d.o.e${n}@gmail.com`,
    ];
    const tokensBefore = (await sql.query('select 1 from signup_tokens')).length;
    for (const email of variants) {
      const res = await post('/v1/signup', { email }, viaProxy(randomClient()));
      expect(res.status, email).toBe(202);
    }
    expect((await sql.query('select 1 from signup_tokens')).length).toBe(tokensBefore);
    // Signed up before it was taken, a variant's token confirms into a 409, not a second account.
    const m = randomInt(1e9);
    await post('/v1/signup', { email: `"ann${m}"@gmail.com` }, viaProxy(randomClient()));
    await post('/v1/signup', { email: `a.n.n${m}@googlemail.com` }, viaProxy(randomClient()));
    const deadline = Date.now() + 15_000;
    let tokens: string[] = [];
    while (tokens.length < 2 && Date.now() < deadline) {
      tokens = [...mailer.events.values()]
        .map((e) => e.body.data as { email?: string; token?: string })
        .filter((d) => d.email === `ann${m}@gmail.com`)
        .map((d) => d.token!);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(tokens).toHaveLength(2);
    expect((await post('/v1/signup/confirm', { token: tokens[0] }, viaProxy(randomClient()))).status).toBe(
      201,
    );
    expect(await post('/v1/signup/confirm', { token: tokens[1] }, viaProxy(randomClient()))).toMatchObject({
      status: 409,
      body: { code: 'email_taken' },
    });
  });

  test('no table holds a token or a mailbox in plaintext', async () => {
    const n = randomInt(1e9);
    const email = `plain${n}@example.net`;
    await post('/v1/signup', { email }, viaProxy(randomClient()));
    const token = await tokenFor(email);
    const dumpAll = async () => {
      const tables = await sql.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
      );
      let text = '';
      for (const { table_name } of tables)
        text += JSON.stringify(await sql.query(`select t::text as row from "${table_name}" t`));
      return text.toLowerCase();
    };
    for (const dump of [
      await dumpAll(),
      await (async () => {
        await post('/v1/signup/confirm', { token }, viaProxy(randomClient()));
        return dumpAll();
      })(),
    ]) {
      expect(dump).not.toContain(`plain${n}`);
      expect(dump).not.toContain(token.toLowerCase());
    }
  });

  test('rotating X-Forwarded-For does not lift the per-address limit (direct, through the proxy, IPv6 /64)', async () => {
    // A client calling Tollgate directly (127.x.y.z, not a trusted proxy): its own X-Forwarded-For,
    // in the `client, 127.0.0.1` form too, is ignored.
    const statuses = async (forms: Array<{ from?: string; xff?: string }>) => {
      const out: number[] = [];
      for (const form of forms)
        out.push((await post('/v1/signup', { email: `limit${randomInt(1e9)}@example.org` }, form)).status);
      return out;
    };
    // A fresh address per run: the limit's counters live in the shared Redis for an hour.
    const from = `127.${randomInt(1, 255)}.${randomInt(256)}.${randomInt(1, 255)}`;
    const direct = Array.from({ length: 5 }, (_, i) => ({
      from,
      xff: i % 2 ? `10.0.0.${i}` : `198.51.100.${i}, 127.0.0.1`,
    }));
    expect(await statuses(direct)).toEqual([202, 202, 202, 429, 429]);
    // Through the proxy: whatever the client writes on the left, the proxy's own hop decides.
    const client = randomClient();
    const proxied = Array.from({ length: 5 }, (_, i) => viaProxy(client, `192.0.2.${i}, 127.0.0.1`));
    expect(await statuses(proxied)).toEqual([202, 202, 202, 429, 429]);
    // IPv6: one /64 shares the limit; the next /64 is another subscriber.
    const [a, b] = [randomInt(65536).toString(16), randomInt(65535)];
    const prefix = `2001:db8:${a}:${b.toString(16)}`;
    const v6 = Array.from({ length: 4 }, (_, i) => viaProxy(`${prefix}::${(i + 1).toString(16)}`));
    expect(await statuses(v6)).toEqual([202, 202, 202, 429]);
    expect(await statuses([viaProxy(`2001:db8:${a}:${(b + 1).toString(16)}::1`)])).toEqual([202]);
  });

  test('bad bodies and tokens get a clear 400; other methods 405', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['/v1/signup', 'not json', /must be JSON/],
      ['/v1/signup', {}, /email: is required/],
      ['/v1/signup', { email: 'nope' }, /email address/],
      ['/v1/signup', { email: '"a"b"@example.com' }, /email address/],
      ['/v1/signup', { email: 'a@b.co', name: 'x' }, /unknown field: name/],
      ['/v1/signup', [1], /JSON object/],
      ['/v1/signup/confirm', {}, /token: is required/],
      ['/v1/signup/confirm', { token: 'short' }, /unknown, already used or expired/],
      ['/v1/signup/confirm', { token: 'A'.repeat(43) }, /unknown, already used or expired/],
    ];
    for (const [path, body, detail] of cases) {
      const res = await post(path, body, viaProxy(randomClient()));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect((res.body as { detail: string }).detail).toMatch(detail);
    }
    expect((await fetch(`http://127.0.0.1:${tg.httpPort}/v1/signup`)).status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${tg.httpPort}/v1/signup/confirm`)).status).toBe(405);
  });

  test('an expired token is refused', async () => {
    const n = randomInt(1e9);
    const email = `late${n}@example.com`;
    await post('/v1/signup', { email }, viaProxy(randomClient()));
    const token = await tokenFor(email);
    await sql.query("update signup_tokens set expires_at = now() - interval '1 second'");
    expect((await post('/v1/signup/confirm', { token }, viaProxy(randomClient()))).status).toBe(400);
  });
});

describe('other modes', () => {
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

  test('SIGNUP_CONFIRM=off: the key at once (201), a taken mailbox 409, no confirm route', async () => {
    const demo = await startTollgate({
      accounts: [],
      // Generous limits: these calls come from 127.0.0.1, counted in the shared Redis for an hour, and
      // the global count per minute also holds the other tests' sign-ups (and a run just before).
      env: {
        SIGNUP_ENABLED: 'on',
        SIGNUP_SECRET: SECRET,
        SIGNUP_CONFIRM: 'off',
        SIGNUP_PER_IP_PER_HOUR: '100000',
        SIGNUP_GLOBAL_PER_MINUTE: '100000',
      },
    });
    try {
      const at = (path: string, body: unknown) =>
        fetch(`http://127.0.0.1:${demo.httpPort}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const email = `demo${randomInt(1e9)}@example.com`;
      const created = await at('/v1/signup', { email });
      expect(created.status).toBe(201);
      expect(((await created.json()) as { key: string }).key).toMatch(/^tg_live_/);
      expect((await at('/v1/signup', { email: email.toUpperCase() })).status).toBe(409);
      expect((await at('/v1/signup/confirm', { token: 'x' })).status).toBe(404);
    } finally {
      await demo.stop();
    }
  });
});
