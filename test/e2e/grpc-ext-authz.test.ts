// Envoy ext_authz over gRPC against the real app (Postgres + Redis), as Envoy would call it.

import { credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeaderValueOption } from '../../src/generated/envoy/config/core/v3/base.js';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { GRPC_SERVERS } from '../support/grpc-servers.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

/** A tier whose monthly quota is 3 units, to reach the 402 hard gate in a few calls. */
const TINY_QUOTA_POLICY = `
tiers:
  tiny:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 100, window: 60s }
    quota: { requests: 3, period: month }
    upgrade_url: https://example.com/pricing
endpoints:
  search:
    match: { methods: [GET], path: /v1/search/** }
    cost: 1
`;

const asMap = (options: HeaderValueOption[] = []) =>
  Object.fromEntries(options.map((o) => [o.header?.key, o.header?.value]));

function connect(tollgate: TestTollgate): AuthorizationClient {
  return new AuthorizationClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
}

/** What Envoy sends for one client request (headers include pseudo-headers; path includes the query). */
function envoyCheck(
  client: AuthorizationClient,
  opts: {
    key?: string;
    method?: string;
    path: string;
    extensions?: Record<string, string>;
    headers?: Record<string, string>;
  },
): Promise<CheckResponse> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = {
    ':method': method,
    ':path': opts.path,
    ':authority': 'api.example.com',
    ':scheme': 'http',
    ...opts.headers,
  };
  if (opts.key !== undefined) headers['x-api-key'] = opts.key;
  const request = CheckRequest.fromPartial({
    attributes: {
      request: { http: { id: '1', method, path: opts.path, headers, protocol: 'HTTP/1.1' } },
      contextExtensions: opts.extensions ?? {},
    },
  });
  return new Promise((resolve, reject) =>
    client.check(request, (err, response) => (err ? reject(err) : resolve(response))),
  );
}

describe.each(GRPC_SERVERS)('ext_authz gRPC end to end (demo policy, %s server)', (kind) => {
  let tollgate: TestTollgate;
  let client: AuthorizationClient;

  beforeAll(async () => {
    tollgate = await startTollgate({
      env: { GRPC_SERVER: kind },
      accounts: [
        { label: 'free', tier: 'free' },
        { label: 'free-burst', tier: 'free' },
        { label: 'free-hints', tier: 'free' },
        { label: 'pro', tier: 'pro' },
        { label: 'enterprise', tier: 'enterprise' },
        { label: 'suspended', tier: 'pro', suspended: true },
      ],
    });
    client = connect(tollgate);
  });

  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
  });

  it('allows a known key: identity upstream, key and spoofed headers removed, RateLimit headers to the client', async () => {
    const response = await envoyCheck(client, {
      key: tollgate.keys['free']!,
      path: '/v1/items?page=2',
      headers: { 'x-tollgate-tier': 'enterprise', 'x-tollgate-debug': '1' },
    });
    expect(response.status?.code).toBe(0);
    expect(response.deniedResponse).toBeUndefined();
    const ok = response.okResponse!;
    expect(asMap(ok.headers)).toMatchObject({
      'x-tollgate-account': tollgate.accounts['free'],
      'x-tollgate-key-id': tollgate.keyIds['free'],
      'x-tollgate-tier': 'free',
    });
    expect(ok.headers.every((o) => o.append === false)).toBe(true);
    expect(ok.headersToRemove).toEqual(expect.arrayContaining(['x-api-key', 'x-tollgate-debug']));
    const toClient = asMap(ok.responseHeadersToAdd);
    expect(toClient['ratelimit-policy']).toContain('"per-minute";q=10;w=60');
    expect(toClient['ratelimit-policy']).toContain('"monthly-quota";q=100');
    expect(toClient['ratelimit']).toContain('"per-minute";r=9;');
    expect(ok.responseHeadersToAdd.every((o) => o.append === false)).toBe(true);
  });

  it.each(['pro', 'enterprise'])('allows the %s tier', async (label) => {
    const response = await envoyCheck(client, { key: tollgate.keys[label]!, path: '/v1/export/report.csv' });
    expect(response.status?.code).toBe(0);
    expect(asMap(response.okResponse?.headers)['x-tollgate-tier']).toBe(label);
  });

  it('answers 429 after the free tier sliding window of 10/min, with Retry-After and x-envoy-ratelimited', async () => {
    const key = tollgate.keys['free-burst']!;
    for (let i = 0; i < 10; i++)
      expect((await envoyCheck(client, { key, path: '/v1/items' })).status?.code, `call ${i + 1}`).toBe(0);
    const response = await envoyCheck(client, { key, path: '/v1/items' });
    expect(response.status).toMatchObject({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      message: 'rate_limit_exceeded',
    });
    const denied = response.deniedResponse!;
    expect(denied.status?.code).toBe(429);
    const headers = asMap(denied.headers);
    expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(headers).toMatchObject({
      'x-envoy-ratelimited': 'true',
      'content-type': 'application/problem+json',
    });
    expect(headers['ratelimit']).toContain('"per-minute";r=0;');
    expect(denied.headers.every((o) => o.append === false)).toBe(true);
    expect(JSON.parse(denied.body)).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      'violated-policies': ['per-minute'],
    });
  });

  it('answers 403 for /v1/export/x on the free tier (feature gate)', async () => {
    const response = await envoyCheck(client, { key: tollgate.keys['free']!, path: '/v1/export/x' });
    expect(response.status).toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
      message: 'endpoint_not_in_plan',
    });
    expect(response.deniedResponse?.status?.code).toBe(403);
    expect(JSON.parse(response.deniedResponse!.body)).toMatchObject({
      status: 403,
      code: 'endpoint_not_in_plan',
    });
  });

  it('answers 403 for a suspended account', async () => {
    const response = await envoyCheck(client, { key: tollgate.keys['suspended']!, path: '/v1/items' });
    expect(response.status?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(JSON.parse(response.deniedResponse!.body)).toMatchObject({
      status: 403,
      code: 'account_suspended',
    });
  });

  it.each([
    ['an unknown key', 'tg_live_thisKeyDoesNotExist000000', 'invalid_api_key'],
    ['no key', undefined, 'missing_api_key'],
  ])('answers 401 for %s, with WWW-Authenticate', async (_name, key, code) => {
    const response = await envoyCheck(client, { ...(key === undefined ? {} : { key }), path: '/v1/items' });
    expect(response.status).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, message: code });
    expect(response.deniedResponse?.status?.code).toBe(401);
    expect(asMap(response.deniedResponse?.headers)['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(response.deniedResponse!.body)).toMatchObject({ status: 401, code });
  });

  it('context_extensions name the endpoint and the cost (quota units) for routes the policy cannot match', async () => {
    const response = await envoyCheck(client, {
      key: tollgate.keys['free-hints']!,
      method: 'POST',
      path: '/opaque/route/42',
      extensions: { 'tollgate.endpoint': 'chat', 'tollgate.cost': '7' },
    });
    expect(response.status?.code).toBe(0);
    expect(asMap(response.okResponse?.headers)['x-tollgate-endpoint']).toBe('chat');
    const toClient = asMap(response.okResponse?.responseHeadersToAdd);
    expect(toClient['ratelimit-policy']).toContain('"chat-minute";q=5;w=60');
    expect(toClient['ratelimit']).toContain('"monthly-quota";r=93;');
  });

  it('a malformed tollgate.cost is an operator error: the RPC fails with INVALID_ARGUMENT naming the field', async () => {
    const err = await envoyCheck(client, {
      key: tollgate.keys['pro']!,
      path: '/v1/items',
      extensions: { 'tollgate.cost': '2.5' },
    }).then(
      () => expect.fail('expected INVALID_ARGUMENT'),
      (e: ServiceError) => e,
    );
    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.details).toContain('tollgate.cost');
  });
});

describe.each(GRPC_SERVERS)('ext_authz gRPC end to end (tiny monthly quota, %s server)', (kind) => {
  let tollgate: TestTollgate;
  let client: AuthorizationClient;

  beforeAll(async () => {
    tollgate = await startTollgate({
      policyYaml: TINY_QUOTA_POLICY,
      env: { GRPC_SERVER: kind },
      accounts: [{ label: 'tiny', tier: 'tiny' }],
    });
    client = connect(tollgate);
  });

  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
  });

  it('answers 402 quota_exceeded past the quota, with Retry-After to the period end and the upgrade link', async () => {
    const key = tollgate.keys['tiny']!;
    for (let i = 0; i < 3; i++)
      expect((await envoyCheck(client, { key, path: '/v1/search/q' })).status?.code, `call ${i + 1}`).toBe(0);
    const response = await envoyCheck(client, { key, path: '/v1/search/q' });
    expect(response.status).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'quota_exceeded' });
    const denied = response.deniedResponse!;
    expect(denied.status?.code).toBe(402);
    const headers = asMap(denied.headers);
    expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(headers['ratelimit']).toContain('"monthly-quota";r=0;');
    expect('x-envoy-ratelimited' in headers).toBe(false);
    expect(JSON.parse(denied.body)).toMatchObject({
      status: 402,
      code: 'quota_exceeded',
      'violated-policies': ['monthly-quota'],
      upgrade_url: 'https://example.com/pricing',
    });
  });
});
