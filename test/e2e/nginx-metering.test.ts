// Bill by tokens, end to end through REAL nginx running the shipped config: a metered chat call
// reserves at the gate, the app settles its actual token count through POST /internal/usage/settle,
// and /v1/me and usage_monthly show the settled units, not the reservation.

import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { newReservationId } from '../../src/metering/reservation-id.js';
import { closeHttpServer, listenHttp } from '../../src/transports/http/listen-http.js';
import { startDemoUpstream, type DemoUpstream } from '../support/demo-upstream.js';
import { startNginx, type TestNginx } from '../support/nginx.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const SETTLE_TOKEN = 'settle-token-0123456789abcdef';
const POLICY = `
tiers:
  pro:
    quota: { requests: 1000000, period: month }
    credits_per_request: 1
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    metering: { unit: tokens, reserve: 2000, reserve_header: x-reserve-units, max_reserve: 32000 }
`;
/** What the mock chat API "used" for each answer. */
const TOKENS = 1234;

/** A chat app that settles its token count before it answers, as an LLM API would after generating. */
async function startChatApp(sidecarPort: number) {
  const seen: IncomingHttpHeaders[] = [];
  const settles: unknown[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', async () => {
      const reservation = req.headers['x-tollgate-reservation'];
      if (typeof reservation === 'string') {
        const settled = await fetch(`http://127.0.0.1:${sidecarPort}/internal/usage/settle`, {
          method: 'POST',
          headers: { authorization: `Bearer ${SETTLE_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reservation, units: TOKENS }),
        });
        settles.push({ status: settled.status, body: await settled.json() });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ usage: { total_tokens: TOKENS } }));
    });
  });
  const port = await listenHttp(server, '127.0.0.1', 0);
  return { port, seen, settles, stop: () => closeHttpServer(server) };
}

describe('nginx → Tollgate (metered chat) → app that settles', () => {
  let tollgate: TestTollgate | undefined;
  let app: Awaited<ReturnType<typeof startChatApp>> | undefined;
  let nginx: TestNginx | undefined;
  let sql: PostgresSql | undefined;
  let base = '';

  beforeAll(async () => {
    try {
      tollgate = await startTollgate({
        policyYaml: POLICY,
        accounts: [{ label: 'pro', tier: 'pro', credits: 100_000 }],
        env: { SETTLE_TOKEN, USAGE_FLUSH_MS: '100' },
      });
      app = await startChatApp(tollgate.httpPort);
      nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: app.port });
      sql = new PostgresSql(tollgate.databaseUrl);
      base = `http://127.0.0.1:${nginx.port}`;
    } catch (err) {
      for (const part of [nginx, app, tollgate]) await part?.stop().catch(() => undefined);
      throw err;
    }
  });
  afterAll(async () => {
    await sql?.close();
    for (const part of [nginx, app, tollgate]) await part?.stop().catch(() => undefined);
  });

  const chat = (headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': tollgate!.keys.pro!, 'content-type': 'application/json', ...headers },
      body: '{"messages":[]}',
    });
  const me = async () =>
    (await (await fetch(`${base}/v1/me`, { headers: { 'x-api-key': tollgate!.keys.pro! } })).json()) as {
      quota: { used: number };
      credits: { balance: number };
    };
  const flushed = async () => {
    const [row] = await sql!.query<{ calls: number; units: number; credits: number }>(
      `select coalesce(sum(calls), 0)::bigint as calls, coalesce(sum(units), 0)::bigint as units,
              coalesce(sum(credits), 0)::bigint as credits
         from usage_monthly where account_id = $1 and endpoint = 'chat'`,
      [tollgate!.accounts.pro],
    );
    return { calls: Number(row!.calls), units: Number(row!.units), credits: Number(row!.credits) };
  };

  it('reserves at the gate, settles from the app, and the books show the settled units', async () => {
    // A client-sent reservation header never reaches the app: nginx overwrites it with Tollgate's.
    const res = await chat({ 'x-reserve-units': '5000', 'x-tollgate-reservation': 'forged' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ usage: { total_tokens: TOKENS } });
    const reservation = app!.seen.at(-1)!['x-tollgate-reservation'];
    expect(reservation).toMatch(new RegExp(`^[0-9a-z]+\\.[\\w-]{22}\\.${tollgate!.accounts.pro}$`));
    expect(app!.settles.at(-1)).toEqual({
      status: 200,
      body: { outcome: 'settled', reserved: 5000, units: TOKENS },
    });
    const after = await me();
    expect(after.quota.used).toBe(TOKENS);

    // The flusher carries the reservation and its correction to Postgres: the settled units, once.
    const deadline = Date.now() + 15_000;
    while ((await flushed()).units !== TOKENS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await flushed()).toEqual({ calls: 1, units: TOKENS, credits: TOKENS });

    // A retried settle changes nothing.
    const again = await fetch(`http://127.0.0.1:${tollgate!.httpPort}/internal/usage/settle`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SETTLE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reservation, units: 99_999 }),
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ outcome: 'already_settled' });
    expect((await me()).quota.used).toBe(TOKENS);
  });

  it('settle without the token is 401; bad bodies are 400 naming the field; unknown ids 404', async () => {
    const settle = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${tollgate!.httpPort}/internal/usage/settle`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
    const auth = { authorization: `Bearer ${SETTLE_TOKEN}`, 'content-type': 'application/json' };
    const noToken = await settle({ reservation: 'x', units: 1 });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('content-type')).toBe('application/problem+json');
    expect((await settle({ reservation: 'x', units: 1 }, { authorization: 'Bearer wrong' })).status).toBe(
      401,
    );
    const negative = await settle({ reservation: 'x', units: -1 }, auth);
    expect(negative.status).toBe(400);
    expect(((await negative.json()) as { detail: string }).detail).toMatch(/^units:/);
    const missing = await settle({ units: 1 }, auth);
    expect(((await missing.json()) as { detail: string }).detail).toMatch(/^reservation:/);
    // Well formed, not yet expired, never issued.
    const never = newReservationId(tollgate!.accounts.pro!, Date.now(), 600_000);
    const unknown = await settle({ reservation: never, units: 1 }, auth);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'unknown_reservation' });
  });

  it('the shipped nginx config never routes /internal/ to the sidecar', async () => {
    const before = app!.seen.length;
    const res = await fetch(`${base}/internal/usage/settle`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SETTLE_TOKEN}` },
      body: '{}',
    });
    // It goes through the gate like any path (the bearer is read as an API key: 401), never to Tollgate's route.
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'invalid_api_key' });
    expect(app!.seen.length).toBe(before);
  });
});

describe('nginx → Tollgate (demo policy) → the demo upstream, which settles its tokens', () => {
  let tollgate: TestTollgate | undefined;
  let app: DemoUpstream | undefined;
  let nginx: TestNginx | undefined;

  beforeAll(async () => {
    try {
      tollgate = await startTollgate({
        accounts: [{ label: 'free', tier: 'free' }],
        env: { SETTLE_TOKEN },
      });
      app = await startDemoUpstream({
        TOLLGATE_SETTLE_URL: `http://127.0.0.1:${tollgate.httpPort}/internal/usage/settle`,
        SETTLE_TOKEN,
      });
      nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: app.port });
    } catch (err) {
      for (const part of [nginx, app, tollgate]) await part?.stop().catch(() => undefined);
      throw err;
    }
  });
  afterAll(async () => {
    for (const part of [nginx, app, tollgate]) await part?.stop().catch(() => undefined);
  });

  it('a chat call reserves 5 tokens and is billed the count the app settled', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'Say hello in three languages.' }] });
    const res = await fetch(`http://127.0.0.1:${nginx!.port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': tollgate!.keys.free!, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as {
      tollgate: Record<string, string>;
      usage: { total_tokens: number };
      settled: unknown;
    };
    const tokens = Math.ceil(body.length / 4) + 12;
    expect(answer.usage.total_tokens).toBe(tokens);
    expect(answer.tollgate['x-tollgate-reservation']).toMatch(/^[0-9a-z]+\./);
    expect(answer.settled).toEqual({ outcome: 'settled', reserved: 5, units: tokens });
    const me = await fetch(`http://127.0.0.1:${nginx!.port}/v1/me`, {
      headers: { 'x-api-key': tollgate!.keys.free! },
    });
    expect(((await me.json()) as { quota: { used: number } }).quota.used).toBe(tokens);
  });
});
