// One reading of every path, end to end: real nginx with the shipped config in front of Tollgate and an
// app whose routers read the raw path (test/support/raw-path-routers.ts: Express 4, Flask/Werkzeug and
// a normalising container). For every spelling in the table, every method and key, either Tollgate
// refuses it or the endpoint Tollgate counted (x-tollgate-endpoint, as the app received it) is the one
// each router serves. The same table goes through gRPC Check and Envoy's HTTP mode, where the app is
// assumed to get the raw path (the worst case: the shipped Envoy configs also normalise, see
// test/unit/envoy-path-options.test.ts). And no credential or client-sent x-tollgate-* reaches the app.

import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { rawHttp, statusOf } from '../support/fuzz.js';
import { startNginx, type TestNginx } from '../support/nginx.js';
import { ROUTERS, servedBy } from '../support/raw-path-routers.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';

const POLICY = `
tiers:
  free:
    limits: [{ name: per-second, algorithm: fixed_window, limit: 100000, window: 1s }]
    quota: unlimited
  open:
    limits: [{ name: per-second, algorithm: fixed_window, limit: 100000, window: 1s }]
    quota: unlimited
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    cost: 5
  export:
    match: { path: /v1/export/** }
    overrides:
      free: { allowed: false }
  items:
    match: { path: /v1/items/* }
`;

/** Plain spellings (served, and counted right) and the attacks of issue 12 and its neighbours. */
const SPELLINGS = [
  '/v1/export/data',
  '/v1/export',
  '/v1/export/',
  '/v1/chat/completions',
  '/v1/items/1',
  '/v1/data',
  '/v1/export-preview/x',
  '/V1/EXPORT/data',
  '/v1/Export/data',
  '/v1//export/data',
  '//v1/export/data',
  '/v1/export//data',
  '/v1/export/data?x=../../chat',
  '/v1/chat/x?/../../export/data',
  '/v1/export/%2e%2e/data',
  '/v1/export/..;/data',
  '/v1/export/%252e%252e/data',
  '/v1/export/%25252e%25252e/data',
  '/v1/chat/../completions',
  '/v1/chat/../export/x',
  '/v1/chat/%2e%2e/export/x',
  '/v1/chat/%2E%2E/export/x',
  '/v1/chat/.%2e/export/x',
  '/v1/chat/%2e./export/x',
  '/v1/chat/%2e%2e%2fexport/x',
  '/v1/chat%2f..%2fexport/x',
  '/v1%2Fexport/x',
  '/v1%2fexport/x',
  '/v1%252Fexport/x',
  '/v1%5cexport/x',
  '/v1\\export\\x',
  '/v1/chat/..\\export/x',
  '/v1/export./x',
  '/v1/export../x',
  '/v1/export%2e/x',
  '/v1/export%20/x',
  '/v1/export;jsessionid=1/x',
  '/v1;a=b/export/x',
  '/v1/chat/..;/export/x',
  '/v1/chat/;/../export/x',
  '/v1/./export/x',
  '/./v1/export',
  '/../v1/export/x',
  '/v1/export/.',
  '/v1/items/../../v1/export',
  '/v1/items/1/../../export/x',
  '/v1/items/%2e%2e',
  '/v1/items/..%2f..%2fexport',
  '/v1/chat/%c0%ae%c0%ae/export/x',
  '/v1%c0%afexport/x',
  '/v1/chat/%e0%80%ae%e0%80%ae/export/x',
  '/v1/chat/%ef%bc%8e%ef%bc%8e/export/x',
  '/v1/export%00/x',
  '/v1/chat/%00/../../export/x',
  '/v1/%65xport/x',
  '/v1/%65%78%70%6f%72%74/x',
  '/v1/chat/x%23/../../export/x',
  '/v1/chat/%ff/../../export/x',
  '/v1/chat/x#/../../export/x',
  'http://api.example.com/v1/export/data',
  'http://api.example.com/v1/chat/../export/x',
  'http://api.example.com/v1/chat/%2e%2e/export/x',
];
const METHODS = ['GET', 'POST'] as const;

interface Outcome {
  spelling: string;
  method: string;
  key: string;
  /** undefined: refused before the app (status), else what the app got and Tollgate counted. */
  reached?: { target: string; counted: string | undefined };
  status?: number;
}

/** Every (router, served endpoint) where Tollgate counted another one: a bypass. */
function bypasses(outcomes: Outcome[], keys: Record<string, string>) {
  const found: string[] = [];
  for (const o of outcomes) {
    if (!o.reached) continue;
    for (const router of ROUTERS) {
      const served = servedBy(router, o.method, o.reached.target);
      const gated = served === 'export' && o.key === keys['free'];
      if (served !== null && (served !== o.reached.counted || gated))
        found.push(`${o.method} ${o.spelling} (${router}): served ${served}, counted ${o.reached.counted}`);
    }
  }
  return found;
}

function summary(outcomes: Outcome[]) {
  const served = outcomes.filter((o) => o.reached);
  return {
    requests: outcomes.length,
    refused: outcomes.length - served.length,
    reachedApp: served.length,
    servedByARouter: served.filter((o) => ROUTERS.some((r) => servedBy(r, o.method, o.reached!.target)))
      .length,
  };
}

let tollgate: TestTollgate | undefined;
let upstream: TestUpstream | undefined;
let nginx: TestNginx | undefined;
let keys: Record<string, string> = {};

beforeAll(async () => {
  try {
    tollgate = await startTollgate({
      policyYaml: POLICY,
      accounts: [
        { label: 'free', tier: 'free' },
        { label: 'open', tier: 'open' },
      ],
    });
    keys = tollgate.keys;
    upstream = await startUpstream();
    nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: upstream.port });
  } catch (err) {
    for (const part of [nginx, upstream, tollgate]) await part?.stop().catch(() => undefined);
    throw err;
  }
}, 60_000);
afterAll(async () => {
  for (const part of [nginx, upstream, tollgate]) await part?.stop().catch(() => undefined);
});

const cases = () =>
  SPELLINGS.flatMap((spelling) =>
    METHODS.flatMap((method) => [keys['open']!, keys['free']!].map((key) => ({ spelling, method, key }))),
  );

describe(`${SPELLINGS.length} path spellings × ${METHODS.length} methods × 2 keys × ${ROUTERS.length} routers`, () => {
  it('sanity: the router emulations serve the plain spellings', () => {
    expect(SPELLINGS.length).toBeGreaterThanOrEqual(50);
    expect(ROUTERS.map((r) => servedBy(r, 'GET', '/v1/export/data'))).toEqual(['export', 'export', 'export']);
    // The bypass: the raw-path routers serve export where a resolving reading sees /v1/data.
    expect(ROUTERS.map((r) => servedBy(r, 'GET', '/v1/export/%2e%2e/data'))).toEqual([
      'export',
      'export',
      'default',
    ]);
    expect(ROUTERS.map((r) => servedBy(r, 'POST', '/v1/chat/../completions'))).toEqual([
      'chat',
      'chat',
      null,
    ]);
    expect(ROUTERS.map((r) => servedBy(r, 'GET', '/v1/chat/../export/x'))).toEqual([null, null, 'export']);
  });

  it('through real nginx (shipped config): 0 bypasses', async () => {
    const outcomes: Outcome[] = [];
    for (const { spelling, method, key } of cases()) {
      const before = upstream!.requests.length;
      const request = `${method} ${spelling} HTTP/1.1\r\nhost: api.example.com\r\nx-api-key: ${key}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
      const status = statusOf(await rawHttp(nginx!.port, Buffer.from(request, 'latin1')));
      const outcome: Outcome = { spelling, method, key, status };
      if (upstream!.requests.length > before) {
        const got = upstream!.last();
        outcome.reached = {
          target: got.url,
          counted: got.headers['x-tollgate-endpoint'] as string | undefined,
        };
        expect(status, spelling).toBe(200);
      } else expect(status, `${method} ${spelling}`).toBeGreaterThanOrEqual(400);
      outcomes.push(outcome);
    }
    console.log(`[path readings nginx] ${JSON.stringify(summary(outcomes))}`);
    expect(bypasses(outcomes, keys)).toEqual([]);
    // The plain spellings did get through, counted as what they are.
    const plain = outcomes.find((o) => o.spelling === '/v1/export/data' && o.key === keys['open']);
    expect(plain?.reached?.counted).toBe('export');
    expect(summary(outcomes).servedByARouter).toBeGreaterThan(20);
  }, 120_000);

  it('through gRPC Check (grpc-js client; the app gets the raw :path): 0 bypasses', async () => {
    const client = new AuthorizationClient(`127.0.0.1:${tollgate!.grpcPort}`, credentials.createInsecure());
    const outcomes: Outcome[] = [];
    try {
      for (const { spelling, method, key } of cases()) {
        const response = await new Promise<CheckResponse>((resolve, reject) =>
          client.check(
            CheckRequest.fromPartial({
              attributes: {
                request: {
                  http: { method, path: spelling, headers: { 'x-api-key': key, ':path': spelling } },
                },
              },
            }),
            (err, r) => (err ? reject(err) : resolve(r)),
          ),
        );
        const outcome: Outcome = { spelling, method, key, status: response.deniedResponse?.status?.code };
        if (response.status?.code === 0) {
          const counted = response.okResponse?.headers.find((h) => h.header?.key === 'x-tollgate-endpoint');
          outcome.reached = { target: spelling, counted: counted?.header?.value };
        }
        outcomes.push(outcome);
      }
    } finally {
      client.close();
    }
    console.log(`[path readings grpc] ${JSON.stringify(summary(outcomes))}`);
    expect(bypasses(outcomes, keys)).toEqual([]);
    expect(summary(outcomes).servedByARouter).toBeGreaterThan(20);
  }, 120_000);

  it('through Envoy HTTP mode (/ext_authz + the raw :path): 0 bypasses', async () => {
    const outcomes: Outcome[] = [];
    for (const { spelling, method, key } of cases()) {
      if (!spelling.startsWith('/')) continue; // Envoy sends :path, never an absolute-form target
      const request = `${method} /ext_authz${spelling} HTTP/1.1\r\nhost: api\r\nx-api-key: ${key}\r\nconnection: close\r\n\r\n`;
      const answer = await rawHttp(tollgate!.httpPort, Buffer.from(request, 'latin1'));
      const outcome: Outcome = { spelling, method, key, status: statusOf(answer) };
      if (outcome.status === 200)
        outcome.reached = {
          target: spelling,
          counted: /\r\nx-tollgate-endpoint: ([^\r]*)/i.exec(answer)?.[1],
        };
      else expect(outcome.status, `${method} ${spelling}`).toBeGreaterThanOrEqual(400);
      outcomes.push(outcome);
    }
    console.log(`[path readings envoy http] ${JSON.stringify(summary(outcomes))}`);
    expect(bypasses(outcomes, keys)).toEqual([]);
    expect(summary(outcomes).servedByARouter).toBeGreaterThan(20);
  }, 120_000);
});

describe('credentials and client-sent x-tollgate-* never reach the app (nginx)', () => {
  it('the key in both headers, underscore spellings and a spoofed identity: none arrive', async () => {
    const key = keys['open']!;
    const before = upstream!.requests.length;
    const request = [
      'GET /v1/data HTTP/1.1',
      'host: api',
      `x-api-key: ${key}`,
      `authorization: Bearer ${key}`,
      `x_api_key: ${key}`,
      'x_tollgate_account: acc_evil',
      'x-tollgate-tier: enterprise',
      'X-Tollgate-Account: acc_evil',
      'connection: close',
      '',
      '',
    ].join('\r\n');
    expect(statusOf(await rawHttp(nginx!.port, Buffer.from(request)))).toBe(200);
    expect(upstream!.requests.length).toBe(before + 1);
    const headers = upstream!.last().headers;
    expect(JSON.stringify(headers)).not.toContain(key);
    expect(Object.keys(headers).filter((name) => /api.key|authorization|_tollgate_/.test(name))).toEqual([]);
    expect(headers['x-tollgate-tier']).toBe('open');
    expect(headers['x-tollgate-account']).toBe(tollgate!.accounts['open']);
  });

  it('an X-Tollgate-* name the config does not overwrite is refused with 400 spoofed_header', async () => {
    const before = upstream!.requests.length;
    const res = await fetch(`http://127.0.0.1:${nginx!.port}/v1/data`, {
      headers: { 'x-api-key': keys['open']!, 'x-tollgate-admin': 'yes' },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 400, code: 'spoofed_header' });
    expect(upstream!.requests.length).toBe(before);
  });

  it('an ambiguous path is 400 ambiguous_path for the client, as problem+json', async () => {
    const answer = await rawHttp(
      nginx!.port,
      Buffer.from(
        `GET /v1/export/%2e%2e/data HTTP/1.1\r\nhost: api\r\nx-api-key: ${keys['open']}\r\nconnection: close\r\n\r\n`,
      ),
    );
    expect(statusOf(answer)).toBe(400);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 400,
      code: 'ambiguous_path',
      title: 'Ambiguous path',
    });
  });

  it('/v1/me and /v1/usage reach Tollgate through nginx without auth_request', async () => {
    const me = await fetch(`http://127.0.0.1:${nginx!.port}/v1/me`, {
      headers: { 'x-api-key': keys['open']! },
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ tier: 'open' });
    const usage = await fetch(`http://127.0.0.1:${nginx!.port}/v1/usage`, {
      headers: { 'x-api-key': keys['open']! },
    });
    expect(usage.status).toBe(200);
    const anonymous = await fetch(`http://127.0.0.1:${nginx!.port}/v1/me`);
    expect(anonymous.status).toBe(401);
  });
});
