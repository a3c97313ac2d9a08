// HTTP listener: /check (nginx) and /ext_authz/* (Envoy HTTP) on a real node:http server, with a
// hand-written CheckAccess returning fixed Decisions.

import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/access/access-request.js';
import type { Decision, Denied } from '../../src/access/decision.js';
import { StoreUnavailable } from '../../src/errors.js';
import { createHttpServer } from '../../src/transports/http/http-server.js';
import { jsonStringContent, NGINX_OVERWRITTEN_HEADERS } from '../../src/transports/http/nginx-check.js';
import { closeHttpServer, listenHttp } from '../../src/transports/http/listen-http.js';

const identity = { accountId: 'acc_1', keyId: 'key_1', tier: 'free' };
const policies = [
  { name: 'per-minute', kind: 'rate' as const, limit: 10, windowSec: 60, remaining: 0, resetSec: 30 },
];
const denied = (d: Partial<Denied> & Pick<Denied, 'code' | 'status'>): Denied => ({
  allowed: false,
  detail: `no: ${d.code}`,
  policies,
  violated: [],
  shadowDenied: [],
  ...d,
});

const DECISIONS: Record<string, Decision | Error> = {
  'k-allow': {
    allowed: true,
    identity,
    endpoint: 'chat',
    overage: true,
    shadowDenied: ['shadowy'],
    policies: [{ ...policies[0]!, remaining: 9, resetSec: 6 }],
  },
  'k-429': denied({
    code: 'rate_limit_exceeded',
    status: 429,
    retryAfterSec: 30,
    violated: ['per-minute'],
    identity,
  }),
  'k-402': denied({
    code: 'quota_exceeded',
    status: 402,
    retryAfterSec: 86_400,
    upgradeUrl: 'https://example.com/pricing',
    detail: 'Quota "free" — used up',
    identity,
  }),
  'k-credits': denied({ code: 'insufficient_credits', status: 402, identity }),
  'k-403': denied({ code: 'endpoint_not_in_plan', status: 403, identity, policies: [] }),
  'k-suspended': denied({ code: 'account_suspended', status: 403, identity, policies: [] }),
  'k-ambiguous': denied({ code: 'ambiguous_path', status: 400, policies: [] }),
  'k-down': new StoreUnavailable('redis', 'timeout after 50 ms'),
  'k-boom': new Error('internal detail with secret k-boom'),
};

let server: Server;
let base: string;
let port: number;
const seen: AccessRequest[] = [];

beforeAll(async () => {
  server = createHttpServer({
    checkAccess: async (request) => {
      seen.push(request);
      const answer = request.apiKey ? DECISIONS[request.apiKey] : undefined;
      if (answer instanceof Error) throw answer;
      return (
        answer ??
        denied({ code: request.apiKey ? 'invalid_api_key' : 'missing_api_key', status: 401, policies: [] })
      );
    },
  });
  port = await listenHttp(server, '127.0.0.1', 0);
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => closeHttpServer(server));

const check = (headers: Record<string, string>) =>
  fetch(`${base}/check`, {
    headers: { 'x-original-uri': '/v1/chat/completions?x=1', 'x-original-method': 'POST', ...headers },
  });
const lastSeen = () => seen[seen.length - 1]!;

describe('nginx /check', () => {
  it('allows with 204, RateLimit headers and the identity for auth_request_set', async () => {
    const res = await check({ 'x-api-key': 'k-allow', 'x-tollgate-account': 'spoofed' });
    expect(res.status).toBe(204);
    expect(res.headers.get('ratelimit-policy')).toBe('"per-minute";q=10;w=60');
    expect(res.headers.get('ratelimit')).toBe('"per-minute";r=9;t=6');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('9');
    expect(res.headers.get('x-tollgate-account')).toBe('acc_1');
    expect(res.headers.get('x-tollgate-key-id')).toBe('key_1');
    expect(res.headers.get('x-tollgate-tier')).toBe('free');
    expect(res.headers.get('x-tollgate-endpoint')).toBe('chat');
    expect(res.headers.get('x-tollgate-overage')).toBe('true');
    expect(res.headers.get('x-tollgate-shadow-denied')).toBe('shadowy');
    expect(res.headers.get('x-tollgate-status')).toBeNull();
    expect(lastSeen()).toMatchObject({
      transport: 'http',
      method: 'POST',
      path: '/v1/chat/completions?x=1',
      keyHeader: 'x-api-key',
    });
  });

  it('reads a Bearer key and drops the scheme://host of an absolute-form X-Original-URI', async () => {
    const res = await check({
      authorization: 'Bearer k-allow',
      'x-original-uri': 'http://evil.example/v1/export/x',
      'x-original-method': 'get',
    });
    expect(res.status).toBe(204);
    expect(lastSeen()).toMatchObject({ method: 'GET', path: '/v1/export/x', keyHeader: 'authorization' });
  });

  it.each([
    ['k-429', 403, '429', 'rate_limit_exceeded', '30'],
    ['k-402', 403, '402', 'quota_exceeded', '86400'],
    ['k-credits', 403, '402', 'insufficient_credits', null],
    ['k-403', 403, '403', 'endpoint_not_in_plan', null],
    ['k-suspended', 403, '403', 'account_suspended', null],
    ['k-unknown', 401, '401', 'invalid_api_key', null],
    ['k-ambiguous', 403, '400', 'ambiguous_path', null],
  ])('key %s → %i with X-Tollgate-Status %s', async (key, status, real, code, retryAfter) => {
    const res = await check({ 'x-api-key': key });
    expect(res.status).toBe(status);
    expect(res.headers.get('x-tollgate-status')).toBe(real);
    expect(res.headers.get('x-tollgate-code')).toBe(code);
    expect(res.headers.get('retry-after')).toBe(retryAfter);
    expect(res.headers.get('x-tollgate-account')).toBeNull();
    const body = await res.json();
    expect(body).toMatchObject({ code, status: Number(real) });
  });

  it('sends 401 with WWW-Authenticate when no key is present', async () => {
    const res = await check({});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tollgate"');
    expect(res.headers.get('x-tollgate-code')).toBe('missing_api_key');
  });

  it('carries RateLimit headers, the upgrade URL and a JSON-safe detail on denial', async () => {
    const res = await check({ 'x-api-key': 'k-402' });
    expect(res.headers.get('ratelimit')).toBe('"per-minute";r=0;t=30');
    expect(res.headers.get('x-ratelimit-reset')).toBe('30');
    expect(res.headers.get('x-tollgate-upgrade-url')).toBe('https://example.com/pricing');
    const detail = res.headers.get('x-tollgate-detail')!;
    expect(detail).toBe('Quota \\"free\\" \\u2014 used up');
    expect(JSON.parse(`"${detail}"`)).toBe('Quota "free" — used up');
    expect(jsonStringContent('a\\b\n')).toBe('a\\\\b\\n');
  });

  it('refuses (400 through X-Tollgate-Status) an X-Tollgate-* or `_` header nginx would not overwrite', async () => {
    const before = seen.length;
    for (const name of ['x-tollgate-anything', 'x-tollgate-status']) {
      const res = await check({ 'x-api-key': 'k-allow', [name]: 'spoofed' });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-tollgate-status')).toBe('400');
      expect(res.headers.get('x-tollgate-code')).toBe('spoofed_header');
    }
    expect(seen.length).toBe(before); // never reached the core: nothing counted
    for (const name of NGINX_OVERWRITTEN_HEADERS)
      expect((await check({ 'x-api-key': 'k-allow', [name]: 'spoofed' })).status).toBe(204);
  });

  it('fails closed with 403 proxy_misconfigured when X-Original-URI or X-Original-Method is missing', async () => {
    const before = seen.length;
    const broken: Array<Record<string, string>> = [
      { 'x-original-uri': '' },
      { 'x-original-method': '' },
      { 'x-original-method': 'P0ST!' },
    ];
    for (const headers of broken) {
      const res = await check({ 'x-api-key': 'k-allow', ...headers });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-tollgate-status')).toBe('403');
      expect(res.headers.get('x-tollgate-code')).toBe('proxy_misconfigured');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    const bare = await fetch(`${base}/check`, { headers: { 'x-api-key': 'k-allow' } });
    expect(bare.status).toBe(403);
    expect(seen.length).toBe(before); // never reached the core
  });

  it('answers 503 unavailable on StoreUnavailable and a generic 500 on anything else', async () => {
    const down = await check({ 'x-api-key': 'k-down' });
    expect(down.status).toBe(503);
    expect(down.headers.get('content-type')).toBe('application/problem+json');
    expect(await down.json()).toMatchObject({ status: 503, code: 'unavailable' });
    const boom = await check({ 'x-api-key': 'k-boom' });
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).not.toContain('k-boom');
    expect(JSON.parse(text)).toMatchObject({ status: 500, code: 'internal_error' });
  });
});

describe('Envoy HTTP /ext_authz/*', () => {
  it('allows with exactly 200, identity headers, headers-to-remove and RateLimit headers', async () => {
    const res = await fetch(`${base}/ext_authz/v1/chat/completions?stream=true`, {
      method: 'POST',
      headers: {
        'x-api-key': 'k-allow',
        'x-tollgate-account': 'spoofed',
        'x-tollgate-degraded': 'true',
        'x-request-id': 'req-1',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tollgate-account')).toBe('acc_1');
    expect(res.headers.get('x-tollgate-tier')).toBe('free');
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBe(
      'x-api-key, authorization, x-tollgate-degraded',
    );
    expect(res.headers.get('ratelimit')).toBe('"per-minute";r=9;t=6');
    expect(await res.text()).toBe('');
    expect(lastSeen()).toMatchObject({
      transport: 'envoy_http',
      method: 'POST',
      path: '/v1/chat/completions?stream=true',
      requestId: 'req-1',
    });
  });

  it('maps a bare /ext_authz and a query-only target to the root path', async () => {
    await fetch(`${base}/ext_authz`, { headers: { 'x-api-key': 'k-allow' } });
    expect(lastSeen().path).toBe('/');
    await fetch(`${base}/ext_authz?a=1`, { headers: { 'x-api-key': 'k-allow' } });
    expect(lastSeen().path).toBe('/?a=1');
  });

  it.each([
    ['k-429', 429, 'rate_limit_exceeded'],
    ['k-402', 402, 'quota_exceeded'],
    ['k-credits', 402, 'insufficient_credits'],
    ['k-403', 403, 'endpoint_not_in_plan'],
    ['k-unknown', 401, 'invalid_api_key'],
    ['k-ambiguous', 400, 'ambiguous_path'],
  ])('key %s → the real status %i with a problem+json body', async (key, status, code) => {
    const res = await fetch(`${base}/ext_authz/v1/anything`, {
      method: 'DELETE',
      headers: { 'x-api-key': key },
    });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBeNull();
    expect(await res.json()).toMatchObject({ status, code });
    if (status === 429) expect(res.headers.get('retry-after')).toBe('30');
    if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('answers 503 on StoreUnavailable so Envoy applies failure_mode_allow / status_on_error', async () => {
    const res = await fetch(`${base}/ext_authz/v1/x`, { headers: { 'x-api-key': 'k-down' } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'unavailable' });
  });
});

describe('router and bad input', () => {
  it('keeps idle proxy connections longer than nginx / Envoy do (60 s)', () => {
    expect(server.keepAliveTimeout).toBeGreaterThan(60_000);
    expect(server.headersTimeout).toBeLessThanOrEqual(server.requestTimeout);
  });

  it('serves the probes and 404s unknown paths with problem+json', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const res = await fetch(`${base}/checkx`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await fetch(`${base}/ext_authzz/v1`)).status).toBe(404);
  });

  it('answers 431 to oversize headers and keeps serving', async () => {
    const res = await raw(`GET /check HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(40_000)}\r\n\r\n`);
    expect(res).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('answers 400 to NUL and control bytes in the target or headers, and keeps serving', async () => {
    expect(await raw('GET /ext_authz/v1/\0x HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw('GET /check HTTP/1.1\r\nhost: x\r\nx-original-uri: /a\0b\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    expect(await raw('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('refuses raw non-ASCII bytes in the target, passes encoded ones through to the core untouched', async () => {
    expect(await raw('GET /ext_authz/v1/\xff HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const res = await raw(
      `GET /ext_authz/v1/%00/%ff/..//export HTTP/1.1\r\nhost: x\r\nx-api-key: k-403\r\nconnection: close\r\n\r\n`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 403 /);
    expect(lastSeen().path).toBe('/v1/%00/%ff/..//export');
  });

  it('accepts latin1 bytes in X-Original-URI (nginx forwards them raw)', async () => {
    const res = await raw(
      `GET /check HTTP/1.1\r\nhost: x\r\nx-original-method: GET\r\nx-original-uri: /v1/\xe9t\xe9\r\nx-api-key: k-403\r\nconnection: close\r\n\r\n`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 403 /);
    expect(lastSeen().path).toBe('/v1/\xe9t\xe9');
  });
});

describe('readiness and extra routes', () => {
  it('answers /readyz 503 when not ready, runs extra routes and maps their failures', async () => {
    let ready = false;
    const other = createHttpServer({
      checkAccess: async () => {
        throw new Error('unused');
      },
      ready: () => ready,
      routes: {
        '/v1/me': (_req, res) => void res.end('me'),
        '/v1/usage': async () => {
          throw new StoreUnavailable('postgres', 'down');
        },
      },
    });
    const otherPort = await listenHttp(other, '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${otherPort}`;
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${url}/v1/me?x=1`)).text()).toBe('me');
      const usage = await fetch(`${url}/v1/usage`);
      expect(usage.status).toBe(503);
      expect(await usage.json()).toMatchObject({ code: 'unavailable' });
    } finally {
      await closeHttpServer(other);
    }
  });
});

/** Sends raw bytes (latin1) and resolves with whatever the server answered before closing. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(request, 'latin1')));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
  });
}
