// The demo behind Envoy, with Envoy's part played in the test (there is no Envoy binary in CI): the
// gate reserves (/check), the real demo app (deploy/demo-upstream/app.py, no settle URL: untouched)
// answers, and each piece of its answer is handed to Tollgate's ext_proc Process as Envoy's
// observability mode would, as it arrives. Tollgate settles at the `usage` the app reported.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../support/demo-upstream.js';
import { extProcClient, headerMap } from '../support/ext-proc-client.js';
import { DEMO_POLICY_YAML, startTollgate, type TestTollgate } from '../support/tollgate.js';

describe('demo app behind Envoy: ext_proc settles chat at the usage the app reports', () => {
  let tg: TestTollgate | undefined;
  let app: DemoUpstream | undefined;
  let client: ReturnType<typeof extProcClient>;

  beforeAll(async () => {
    tg = await startTollgate({ policyYaml: DEMO_POLICY_YAML, accounts: [{ label: 'pro', tier: 'pro' }] });
    app = await startDemoUpstream();
    client = extProcClient(tg.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await app?.stop();
    await tg?.stop();
  });

  const used = async () => {
    const res = await fetch(`http://127.0.0.1:${tg!.httpPort}/v1/me`, {
      headers: { 'x-api-key': tg!.keys.pro! },
    });
    return ((await res.json()) as { quota: { used: number } }).quota.used;
  };

  /** One chat call as Envoy runs it: the gate, then the app, each answer piece shown to ext_proc. */
  async function chat(body: string): Promise<{ text: string; pieces: number }> {
    const gate = await fetch(`http://127.0.0.1:${tg!.httpPort}/check`, {
      headers: {
        'x-api-key': tg!.keys.pro!,
        'x-original-uri': '/v1/chat/completions',
        'x-original-method': 'POST',
        'x-reserve-tokens': '400',
      },
    });
    expect(gate.ok).toBe(true);
    const reservation = gate.headers.get('x-tollgate-reservation')!;
    const call = client.open();
    const observe = { observability_mode: true };
    const upstreamHeaders = { 'content-type': 'application/json', 'x-tollgate-reservation': reservation };
    call.send({
      request_headers: { headers: headerMap({ ':method': 'POST', ...upstreamHeaders }) },
      ...observe,
    });
    let text = '';
    let pieces = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: app!.port,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: upstreamHeaders,
        },
        (res) => {
          const headers: Record<string, string> = { ':status': String(res.statusCode) };
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          call.send({ response_headers: { headers: headerMap(headers) }, ...observe });
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            pieces++;
            call.send({ response_body: { body: chunk }, ...observe });
          });
          res.on('end', () => {
            call.send({ response_body: { body: Buffer.alloc(0), end_of_stream: true }, ...observe });
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(await call.closed).toBe(0);
    return { text, pieces };
  }

  it('a streamed (SSE) answer: settled at the usage of its last chunk, not at the 400 reserved', async () => {
    const before = await used();
    const { text, pieces } = await chat('{"stream": true, "messages": [{"role": "user", "content": "hi"}]}');
    expect(pieces).toBeGreaterThan(3);
    const usageLine = text.split('\n').find((l) => l.includes('"usage": {'))!;
    const tokens = JSON.parse(usageLine.slice('data: '.length)).usage.total_tokens as number;
    expect(tokens).toBeGreaterThan(12);
    await expect.poll(used).toBe(before + tokens);
  });

  it('a JSON answer: settled at its usage.total_tokens', async () => {
    const before = await used();
    const { text } = await chat('{"messages": []}');
    const tokens = JSON.parse(text).usage.total_tokens as number;
    await expect.poll(used).toBe(before + tokens);
  });
});
