// Envoy ext_proc end to end, on both gRPC servers: a metered call reserves at the gate (/check),
// then a client built from the upstream ext_proc protos plays Envoy's side of Process: the request
// headers with the reservation, the response headers and body, as JSON or SSE in many pieces.
// The reservation settles at the usage the answer reports, on real Redis and Postgres.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extProcClient, type ExtProcMessage, headerMap } from '../support/ext-proc-client.js';
import { GRPC_SERVERS } from '../support/grpc-servers.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

const RESERVE = 2000;
const POLICY = `
tiers:
  pro:
    quota: { requests: 1000000, period: month }
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    metering: { unit: tokens, reserve: ${RESERVE} }
`;

/** An OpenAI-style stream: content chunks with "usage": null, the usage chunk, then [DONE]. */
function sseBody(prompt: number, completion: number): string {
  const chunk = (delta: string) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: delta } }], usage: null })}\n\n`;
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  return `${chunk('Hel')}${chunk('lo, wörld')}data: ${JSON.stringify({ id: 'c1', choices: [], usage })}\n\ndata: [DONE]\n\n`;
}

/** `text` as body messages of `size` bytes each; the last one ends the stream. */
function bodyPieces(text: string, size: number, observe = false): ExtProcMessage[] {
  const bytes = Buffer.from(text, 'utf8');
  const pieces: ExtProcMessage[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const body = bytes.subarray(at, at + size);
    const end_of_stream = at + size >= bytes.length;
    pieces.push({ response_body: { body, end_of_stream }, observability_mode: observe });
  }
  return pieces;
}

describe.each(GRPC_SERVERS)('ext_proc Process settles metered calls (%s server)', (kind) => {
  let tg: TestTollgate;
  let client: ReturnType<typeof extProcClient>;

  beforeAll(async () => {
    tg = await startTollgate({
      policyYaml: POLICY,
      accounts: [{ label: 'pro', tier: 'pro' }],
      env: { GRPC_SERVER: kind },
    });
    client = extProcClient(tg.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await tg?.stop();
  });

  /** An allowed metered call through the gate: its reservation id. */
  async function reserve(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
      headers: {
        'x-api-key': tg.keys.pro!,
        'x-original-uri': '/v1/chat/completions',
        'x-original-method': 'POST',
      },
    });
    expect(res.ok).toBe(true);
    return res.headers.get('x-tollgate-reservation')!;
  }

  async function used(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${tg.httpPort}/v1/me`, {
      headers: { 'x-api-key': tg.keys.pro! },
    });
    return ((await res.json()) as { quota: { used: number } }).quota.used;
  }

  async function isOpen(id: string): Promise<boolean> {
    const res = await fetch(
      `http://127.0.0.1:${tg.adminPort}/admin/accounts/${tg.accounts.pro}/reservations`,
      {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      },
    );
    const { reservations } = (await res.json()) as { reservations: { id: string }[] };
    return reservations.some((r) => r.id === id);
  }

  /** Waits until the reservation is settled (no longer open): settles run after the stream ends. */
  async function settled(id: string): Promise<void> {
    const until = Date.now() + 5000;
    while (await isOpen(id)) {
      if (Date.now() > until) throw new Error(`reservation ${id} was never settled`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function streams(usage: string, result: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${tg.httpPort}/metrics`)).text();
    return sampleValue(parsePrometheusText(text), 'tollgate_ext_proc_streams_total', { usage, result }) ?? 0;
  }

  /** Plays one call: request headers with the reservation, then `messages`; resolves with the status. */
  async function play(id: string | undefined, messages: ExtProcMessage[], observe = false) {
    const call = client.open();
    const headers = { ':method': 'POST', ':path': '/v1/chat/completions' };
    call.send({
      request_headers: { headers: headerMap(id ? { ...headers, 'x-tollgate-reservation': id } : headers) },
      observability_mode: observe,
    });
    for (const message of messages) call.send(message);
    const code = await call.closed;
    return { code, answers: call.answers.map((a) => a.response) };
  }

  const jsonHeaders = (extra: Record<string, string> = {}, observe = false): ExtProcMessage => ({
    response_headers: {
      headers: headerMap({ ':status': '200', 'content-type': 'application/json', ...extra }),
    },
    observability_mode: observe,
  });

  it('a JSON answer: every message answered CONTINUE, settled at usage.total_tokens', async () => {
    const before = await used();
    const id = await reserve();
    expect(await used()).toBe(before + RESERVE);
    const body = JSON.stringify({ id: 'x', choices: [], usage: { total_tokens: 1234 } });
    const { code, answers } = await play(id, [jsonHeaders(), ...bodyPieces(body, 20)]);
    expect(code).toBe(0);
    expect(answers).toEqual([
      'request_headers',
      'response_headers',
      ...bodyPieces(body, 20).map(() => 'response_body'),
    ]);
    await settled(id);
    expect(await used()).toBe(before + 1234);
  });

  it('an SSE answer in observability mode, the usage chunk split across 7-byte pieces: no answers, settled', async () => {
    const before = await used();
    const id = await reserve();
    const headers = {
      response_headers: { headers: headerMap({ ':status': '200', 'content-type': 'text/event-stream' }) },
      observability_mode: true,
    };
    const pieces = bodyPieces(sseBody(10, 25), 7, true);
    expect(pieces.length).toBeGreaterThan(40);
    const { code, answers } = await play(id, [headers, ...pieces], true);
    expect(code).toBe(0);
    expect(answers).toEqual([]);
    await settled(id);
    expect(await used()).toBe(before + 35);
  });

  it('x-usage-units from the app: settled at the response headers; the stream ends there', async () => {
    const before = await used();
    const id = await reserve();
    const { code, answers } = await play(id, [jsonHeaders({ 'x-usage-units': '77' })]);
    expect(code).toBe(0);
    expect(answers).toEqual(['request_headers', 'response_headers']);
    await settled(id);
    expect(await used()).toBe(before + 77);
  });

  it('missing or unreadable usage settles at the reservation and is counted', async () => {
    const missingBefore = await streams('missing', 'settled');
    const unreadableBefore = await streams('unreadable', 'settled');
    const before = await used();
    const a = await reserve();
    await play(a, [jsonHeaders(), ...bodyPieces('{"id":"no usage here"}', 8)]);
    const b = await reserve();
    await play(b, [jsonHeaders(), ...bodyPieces('{"usage":{"total_tokens":"lots"}}', 8)]);
    const c = await reserve();
    await play(c, [jsonHeaders(), ...bodyPieces('<html>upstream error</html>', 8)]);
    for (const id of [a, b, c]) await settled(id);
    expect(await used()).toBe(before + 3 * RESERVE);
    expect(await streams('missing', 'settled')).toBe(missingBefore + 1);
    expect(await streams('unreadable', 'settled')).toBe(unreadableBefore + 2);
  });

  it('a call Envoy ends before the response did settles at the reservation (incomplete)', async () => {
    const incompleteBefore = await streams('incomplete', 'settled');
    const before = await used();
    const id = await reserve();
    const call = client.open();
    call.send({ request_headers: { headers: headerMap({ 'x-tollgate-reservation': id }) } });
    call.send(jsonHeaders());
    call.send({ response_body: { body: Buffer.from('{"usage":{"total_'), end_of_stream: false } });
    call.end();
    expect(await call.closed).toBe(0);
    await settled(id);
    expect(await used()).toBe(before + RESERVE);
    expect(await streams('incomplete', 'settled')).toBe(incompleteBefore + 1);
  });

  it('a call without a reservation is ended at its request headers and settles nothing', async () => {
    const noneBefore = await streams('none', 'skipped');
    const { code, answers } = await play(undefined, []);
    expect(code).toBe(0);
    expect(answers).toEqual(['request_headers']);
    expect(await streams('none', 'skipped')).toBe(noneBefore + 1);
  });

  it('a settle already made (by the app) is not made twice', async () => {
    const before = await used();
    const id = await reserve();
    const admin = await fetch(`http://127.0.0.1:${tg.adminPort}/admin/reservations/${id}/settle`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ units: 500 }),
    });
    expect(admin.status).toBe(200);
    const already = await streams('header', 'already_settled');
    await play(id, [jsonHeaders({ 'x-usage-units': '9' })]);
    await expect.poll(() => streams('header', 'already_settled')).toBe(already + 1);
    expect(await used()).toBe(before + 500);
  });
});
