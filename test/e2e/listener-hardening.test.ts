// Nothing a client sends stops the process: a real Tollgate (node dist/main.js) gets the request lines
// that used to kill it, the admin inputs that used to be 500s, and a seeded fuzz of 10,000 inputs per
// listener (admin with the valid token, HTTP's own routes, gRPC health and rate-limit service);
// 0 crashes and 0 5xx answers. /check, /ext_authz and gRPC Check are fuzzed in hostile-input.test.ts.

import { connect as http2Connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRoute } from '../../src/transports/admin/admin-route.js';
import { adminRoutes } from '../../src/transports/admin/admin-server.js';
import { pool, prng, rawHttp, type Rng, statusOf } from '../support/fuzz.js';
import { type Server, startTollgateProcess } from '../support/processes.js';
import {
  DEMO_POLICY_YAML,
  prepareDatabase,
  type PreparedDatabase,
  TEST_ADMIN_TOKEN,
} from '../support/tollgate.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5afe1157);
const PER_LISTENER = 10_000;

let db: PreparedDatabase;
let server: Server;
let ports: { httpPort: number; grpcPort: number; adminPort: number };
let key: string;
let accountId: string;

beforeAll(async () => {
  db = await prepareDatabase({ accounts: [{ label: 'pro', tier: 'pro' }] });
  key = db.keys['pro']!;
  accountId = db.accounts['pro']!;
  const started = await startTollgateProcess(db.url, {
    SIGNUP_ENABLED: 'on',
    SIGNUP_SECRET: 'listener-hardening-signup-secret-0123456789',
    // Confirmation needs a webhook sink configured; nothing is delivered (the exporter does not run).
    EXPORT_WEBHOOK_URL: 'http://127.0.0.1:9/never',
    EXPORT_WEBHOOK_SECRET: 'listener-hardening-webhook-secret',
    EXPORT_IN_SERVE: 'off',
  });
  server = started.server;
  ports = started;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const AUTH = `authorization: Bearer ${TEST_ADMIN_TOKEN}`;
const head = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
const alive = () => expect(server.child.exitCode, server.output().slice(-2000)).toBeNull();

async function admin(method: string, target: string, body?: string, type = 'application/json') {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: admin', AUTH, 'connection: close'];
  if (body !== undefined) lines.push(`content-type: ${type}`, `content-length: ${Buffer.byteLength(body)}`);
  const answer = await rawHttp(ports.adminPort, Buffer.concat([head(lines), Buffer.from(body ?? '')]));
  const text = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return { status: statusOf(answer), body: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('request lines that used to stop the process', () => {
  it.each(['http://[', '//'])('GET %s HTTP/1.1 with the admin token → 400 problem+json', async (target) => {
    const res = await admin('GET', target);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 400, code: 'invalid_request' });
    alive();
  });

  it.each(['http://[', '//', 'http://[::1', 'http://', '*', 'http://a b', '//[', '/%zz/%', 'http:/x'])(
    'GET %s HTTP/1.1 → a 4xx from every HTTP listener, the process stays up',
    async (target) => {
      for (const port of [ports.adminPort, ports.httpPort]) {
        const answer = await rawHttp(port, head([`GET ${target} HTTP/1.1`, 'host: x', AUTH]));
        const status = statusOf(answer);
        expect(status, `${port} ${target}: ${answer.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
      alive();
    },
  );
});

describe('bad admin input is 400 naming the field', () => {
  it.each([
    ['GET', '/admin/keys?prefix=%00', undefined, 'prefix'],
    ['GET', '/admin/accounts/%00', undefined, 'id'],
    ['GET', '/admin/accounts/acc%00x/usage', undefined, 'id'],
    ['POST', '/admin/accounts', '{"name":"a\\u0000b","tier":"pro"}', 'name'],
    [
      'POST',
      '/admin/accounts',
      '{"name":"a","tier":"pro","billing_anchor_day":99999999999}',
      'billing_anchor_day',
    ],
  ])('%s %s', async (method, target, body, field) => {
    const res = await admin(method, target, body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.code).toBe('invalid_request');
    expect(res.body.detail).toContain(field);
  });

  it.each([
    ['an undefined alias', 'a: &x 1\nb:\n  <<: *undefined_alias\n', 'yaml'],
    ['an out-of-range limit', DEMO_POLICY_YAML.replace(/limit: \d+/, 'limit: 2147483648'), 'limit'],
    [
      'an out-of-range cost',
      DEMO_POLICY_YAML.replace('  export:\n', '  export:\n    cost: 9999999999\n'),
      'cost',
    ],
    [
      'an out-of-range reservation',
      DEMO_POLICY_YAML.replace('reserve: 5,', 'reserve: 9999999999,'),
      'reserve',
    ],
    ['an out-of-range price', DEMO_POLICY_YAML.replace(/monthly: \d+/, 'monthly: 1e15'), 'monthly'],
  ])('PUT /admin/policy with %s', async (_name, yaml, field) => {
    expect(yaml).not.toBe(DEMO_POLICY_YAML); // the replacement found its target
    const res = await admin('PUT', '/admin/policy', yaml, 'application/yaml');
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.detail).toContain(field);
  });
});

/** A tally of answers by status; `faults` are 5xx or no answer at all. */
function tally() {
  const byStatus: Record<string, number> = {};
  const faults: string[] = [];
  return {
    byStatus,
    faults,
    note(status: string | number | undefined, request: () => string) {
      byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
      const fault = status === undefined || (typeof status === 'number' && status >= 500) || status === '13';
      if (fault) faults.push(`${status}: ${request().slice(0, 300)}`);
    },
  };
}

const BITS = ['%00', '%ff', '%c0%ae', '..', '%2e', '/', '%2F', "'", '"', '\\', ';', '%', 'é', '\u0000'];
function junk(rng: Rng, max = 24): string {
  const n = rng.int(max);
  let out = '';
  for (let i = 0; i < n; i++)
    out +=
      rng.next() < 0.3
        ? rng.pick(BITS)
        : String.fromCharCode(rng.next() < 0.9 ? 0x20 + rng.int(95) : rng.int(0x3000));
  return out;
}
/** What a URL carries: mostly percent-encoded junk, sometimes raw escapes. */
const urlJunk = (rng: Rng) =>
  rng.next() < 0.7 ? encodeURIComponent(junk(rng)).replace(/%25(?=[0-9a-f]{2})/gi, '%') : rng.pick(BITS);

function jsonValue(rng: Rng, type: string | undefined): unknown {
  const numbers = [0, 1, -1, 31, 32, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 1e300, 1.5, -(2 ** 63), Number.MAX_VALUE];
  if (rng.next() < 0.15) return rng.pick([null, true, [], {}, [1, 'x'], { a: 1 }]);
  if (type === 'integer' || rng.next() < 0.2) return rng.pick(numbers);
  return rng.pick([
    junk(rng),
    '',
    'x'.repeat(rng.int(3000)),
    '2026-11-30T00:00:00Z',
    '9999-99-99T99:99:99Z',
    accountId,
    'pro',
    'tg_live_',
  ]);
}

function adminRequest(rng: Rng, routes: AdminRoute[]): Buffer {
  const route = rng.pick(routes);
  const path =
    rng.next() < 0.1
      ? `/admin/${urlJunk(rng)}`
      : route.path.replace(/\{\w+\}/g, () => (rng.next() < 0.3 ? accountId : urlJunk(rng)));
  const query = Object.keys(route.query?.properties ?? {}).concat(rng.next() < 0.2 ? ['nope'] : []);
  const search = query
    .filter(() => rng.next() < 0.8)
    .map(
      (name) =>
        `${name}=${rng.next() < 0.5 ? urlJunk(rng) : encodeURIComponent(String(jsonValue(rng, undefined)))}`,
    )
    .join('&');
  const method =
    rng.next() < 0.9 ? route.method : rng.pick(['GET', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS']);
  let body: string | undefined;
  let type = 'application/json';
  if (route.rawBody) {
    type = rng.pick(['application/yaml', 'application/json', 'text/plain', 'image/png']);
    body = rng.pick([
      () =>
        DEMO_POLICY_YAML.replace(/\d+/g, (d) => (rng.next() < 0.1 ? String(jsonValue(rng, 'integer')) : d)),
      () => `a: &x 1\nb: *${rng.pick(['x', 'nope'])}\n<<: *y\n`,
      () => junk(rng, 400),
      () =>
        `tiers: {free: {limits: [{name: m, limit: ${rng.pick(['1e400', '-1', '0x10', '.inf', '2147483648'])}, window: 1m}]}}`,
    ])();
  } else if (method !== 'GET') {
    const fields: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(route.body?.properties ?? {}))
      if (rng.next() < 0.7) fields[name] = jsonValue(rng, field.type);
    if (rng.next() < 0.1) fields[junk(rng, 8)] = 1;
    body = rng.next() < 0.9 ? JSON.stringify(fields) : junk(rng, 200);
  }
  const lines = [
    `${method} ${path}${search ? `?${search}` : ''} HTTP/1.1`,
    'host: admin',
    'connection: close',
  ];
  lines.push(rng.next() < 0.97 ? AUTH : `authorization: Bearer ${junk(rng)}`);
  if (rng.next() < 0.1) lines.push(`x-tollgate-actor: ${junk(rng)}`);
  if (body !== undefined) lines.push(`content-type: ${type}`, `content-length: ${Buffer.byteLength(body)}`);
  return Buffer.concat([head(lines), Buffer.from(body ?? '')]);
}

function httpRequest(rng: Rng): Buffer {
  const path = rng.pick([
    '/healthz',
    '/readyz',
    '/metrics',
    '/v1/me',
    '/v1/usage',
    '/v1/signup',
    '/v1/signup/confirm',
    '/nope',
  ]);
  const target =
    rng.next() < 0.2 ? `${path}${rng.pick(['/', '//', '?', '/..', '%00'])}${urlJunk(rng)}` : path;
  const method = rng.pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']);
  const lines = [
    `${method} ${target}${rng.next() < 0.3 ? `?${urlJunk(rng)}=${urlJunk(rng)}` : ''} HTTP/1.1`,
    'host: x',
    'connection: close',
  ];
  const k = rng.pick([key, `${key}x`, junk(rng), 'x'.repeat(500), undefined]);
  if (k !== undefined) lines.push(rng.next() < 0.5 ? `x-api-key: ${k}` : `authorization: Bearer ${k}`);
  if (rng.next() < 0.3) lines.push(`x-forwarded-for: ${junk(rng, 40)}`);
  let body = '';
  if (method === 'POST' || method === 'PUT') {
    body = rng.pick([
      () => JSON.stringify({ email: jsonValue(rng, undefined), name: jsonValue(rng, undefined) }),
      () => JSON.stringify({ email: `${junk(rng, 10)}@example.com` }),
      () => junk(rng, 300),
      () => '',
    ])();
    lines.push(
      `content-type: ${rng.pick(['application/json', 'text/plain', junk(rng, 10)])}`,
      `content-length: ${Buffer.byteLength(body)}`,
    );
  }
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, rng.next() < 0.8 ? 'latin1' : 'utf8'),
    Buffer.from(body),
  ]);
}

describe(`fuzz (seed ${SEED}): ${PER_LISTENER} inputs per listener, 0 crashes, 0 5xx`, () => {
  it('admin listener, with the valid token: every route, junk parameters, queries and bodies', async () => {
    const rng = prng(SEED);
    const routes = adminRoutes({ sql: undefined as never });
    const requests = Array.from({ length: PER_LISTENER }, () => adminRequest(rng, routes));
    const t = tally();
    await pool(requests.length, 24, async (i) => {
      t.note(statusOf(await rawHttp(ports.adminPort, requests[i]!)), () => requests[i]!.toString('latin1'));
    });
    console.log(`[fuzz admin] ${JSON.stringify(t.byStatus)}`);
    expect(t.faults.slice(0, 5)).toEqual([]);
    expect(t.byStatus['200'] ?? 0).toBeGreaterThan(0);
    alive();
  }, 180_000);

  it("HTTP listener's own routes: probes, /metrics, /v1/me, /v1/usage, /v1/signup", async () => {
    const rng = prng(SEED + 1);
    const requests = Array.from({ length: PER_LISTENER }, () => httpRequest(rng));
    const t = tally();
    await pool(requests.length, 24, async (i) => {
      t.note(statusOf(await rawHttp(ports.httpPort, requests[i]!)), () => requests[i]!.toString('latin1'));
    });
    console.log(`[fuzz http routes] ${JSON.stringify(t.byStatus)}`);
    expect(t.faults.slice(0, 5)).toEqual([]);
    expect(t.byStatus['200'] ?? 0).toBeGreaterThan(0);
    alive();
  }, 120_000);

  it('gRPC health (Check, List) and ShouldRateLimit: broken framing, random protobuf, junk fields', async () => {
    const rng = prng(SEED + 2);
    const session = http2Connect(`http://127.0.0.1:${ports.grpcPort}`);
    session.on('error', () => {});
    const t = tally();
    const methods = [
      '/grpc.health.v1.Health/Check',
      '/grpc.health.v1.Health/List',
      '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit',
    ];
    await pool(PER_LISTENER, 32, async () => {
      const path = rng.pick(methods);
      const payload = rng.pick([
        () => Buffer.from(Array.from({ length: rng.int(200) }, () => rng.int(256))),
        () => Buffer.from([0x0a, rng.int(40), ...Buffer.from(junk(rng, 40))]), // field 1 (service / domain), maybe mislengthed
        () => Buffer.from([0x12, 0x04, 0x0a, 0x02, 0x0a, 0x00, 0x18, rng.int(256)]),
        () => Buffer.alloc(0),
      ])();
      const declared = rng.next() < 0.1 ? payload.length + rng.int(100) : payload.length;
      const frame = Buffer.concat([
        Buffer.from([
          rng.next() < 0.05 ? 1 : 0,
          declared >>> 24,
          (declared >>> 16) & 255,
          (declared >>> 8) & 255,
          declared & 255,
        ]),
        payload,
      ]);
      const status = await new Promise<string | undefined>((resolve) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        let grpcStatus: string | undefined;
        stream.on('response', (h) => (grpcStatus = (h['grpc-status'] as string | undefined) ?? grpcStatus));
        stream.on('trailers', (h) => (grpcStatus = (h['grpc-status'] as string | undefined) ?? grpcStatus));
        stream.on('data', () => {});
        stream.on('error', () => {});
        stream.on('close', () => resolve(grpcStatus));
        stream.setTimeout(10_000, () => stream.close());
        stream.end(frame);
      });
      t.note(status, () => `${path} ${frame.toString('hex').slice(0, 120)}`);
    });
    session.close();
    console.log(`[fuzz grpc health+rls] ${JSON.stringify(t.byStatus)}`);
    expect(t.faults.slice(0, 5)).toEqual([]);
    expect(t.byStatus['0'] ?? 0).toBeGreaterThan(0);
    alive();
  }, 120_000);

  it('the process is alive, logged no fatal line, and still answers', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.httpPort}/ext_authz/v1/items`, {
      headers: { 'x-api-key': key },
    });
    expect([200, 429, 402]).toContain(res.status);
    expect(server.output()).not.toMatch(/"level":60/);
    alive();
  });
});
