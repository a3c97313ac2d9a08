// The ext_authz gRPC transport over both real gRPC servers (lean and grpc-js) on port 0, called by the
// generated grpc-js client.

import { credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/access/access-request.js';
import type { Allowed, Decision, Denied } from '../../src/access/decision.js';
import { StoreUnavailable } from '../../src/errors.js';
import type { HeaderValueOption } from '../../src/generated/envoy/config/core/v3/base.js';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
  type DeepPartial,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { createLogger } from '../../src/logger.js';
import type { GrpcListener } from '../../src/transports/grpc/grpc-listener.js';
import { GRPC_SERVERS, startGrpcListener } from '../support/grpc-servers.js';

const KEY = 'tg_live_unit_secret_4f9a2c';
const identity = { accountId: 'acc_1', keyId: 'key_1', tier: 'free' };
const perMinute = {
  name: 'per-minute',
  kind: 'rate' as const,
  limit: 10,
  windowSec: 60,
  remaining: 7,
  resetSec: 31,
};

const allowed: Allowed = {
  allowed: true,
  identity,
  endpoint: 'chat',
  overage: false,
  policies: [perMinute],
  shadowDenied: [],
};
function denied(code: Denied['code'], status: Denied['status'], extra: Partial<Denied> = {}): Denied {
  return {
    allowed: false,
    code,
    status,
    detail: `because ${code}`,
    policies: [],
    violated: [],
    shadowDenied: [],
    ...extra,
  };
}

let next: (request: AccessRequest) => Decision | Promise<Decision>;
const seen: AccessRequest[] = [];
const logs = new PassThrough();
let logText = '';
logs.on('data', (chunk: Buffer) => (logText += chunk.toString('utf8')));

const deps = {
  checkAccess: async (request: AccessRequest) => {
    seen.push(request);
    return next(request);
  },
  logger: createLogger('debug', logs),
};
let client: AuthorizationClient;

function check(request: DeepPartial<CheckRequest>): Promise<CheckResponse> {
  return new Promise((resolve, reject) =>
    client.check(CheckRequest.fromPartial(request), (err, response) =>
      err ? reject(err) : resolve(response),
    ),
  );
}

function checkError(request: DeepPartial<CheckRequest>): Promise<ServiceError> {
  return check(request).then(
    () => expect.fail('expected the RPC to fail'),
    (err: ServiceError) => err,
  );
}

function envoyRequest(
  headers: Record<string, string>,
  extensions: Record<string, string> = {},
  path = '/v1/chat/completions?stream=1',
): DeepPartial<CheckRequest> {
  return {
    attributes: {
      request: {
        http: {
          method: 'POST',
          path,
          headers: { ':method': 'POST', ':path': path, ':authority': 'api.example.com', ...headers },
        },
      },
      contextExtensions: extensions,
    },
  };
}

const asMap = (options: HeaderValueOption[] = []) =>
  Object.fromEntries(options.map((o) => [o.header?.key, o.header?.value]));
const appends = (options: HeaderValueOption[] = []) => options.map((o) => o.append);

describe.each(GRPC_SERVERS)('%s server', (kind) => {
  let server: GrpcListener | undefined;

  beforeAll(async () => {
    const started = await startGrpcListener(kind, deps);
    server = started.listener;
    expect(started.port).toBeGreaterThan(0);
    client = new AuthorizationClient(`127.0.0.1:${started.port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await server?.close(1_000);
  });

  beforeEach(() => {
    seen.length = 0;
    next = () => allowed;
  });

  describe('Authorization/Check: request mapping', () => {
    it('turns headers, method, path and context_extensions into one AccessRequest', async () => {
      await check(
        envoyRequest(
          { 'x-api-key': KEY, 'x-request-id': 'req-1', 'x-tollgate-tier': 'enterprise' },
          { 'tollgate.endpoint': 'chat', 'tollgate.cost': '3' },
        ),
      );
      expect(seen).toEqual([
        {
          transport: 'grpc',
          apiKey: KEY,
          keyHeader: 'x-api-key',
          method: 'POST',
          path: '/v1/chat/completions?stream=1',
          endpointHint: 'chat',
          costHint: 3,
          spoofedHeaders: ['x-tollgate-tier'],
          requestId: 'req-1',
          // The request's headers, as Envoy sent them (a metered endpoint's reserve_header reads them).
          headers: expect.objectContaining({ 'x-request-id': 'req-1', ':method': 'POST' }),
        },
      ]);
    });

    it('reads a Bearer key, and header_map when Envoy runs with encode_raw_headers', async () => {
      await check(envoyRequest({ authorization: `Bearer ${KEY}` }));
      await check({
        attributes: {
          request: {
            http: {
              method: 'GET',
              path: '/v1/items',
              headerMap: { headers: [{ key: 'x-api-key', value: '', rawValue: Buffer.from(KEY) }] },
            },
          },
        },
      });
      expect(seen.map((r) => [r.keyHeader, r.apiKey, r.method, r.path])).toEqual([
        ['authorization', KEY, 'POST', '/v1/chat/completions?stream=1'],
        ['x-api-key', KEY, 'GET', '/v1/items'],
      ]);
    });

    it('a CheckRequest without attributes is a key-less request, answered by the core (401), not a crash', async () => {
      next = (request) => (request.apiKey ? allowed : denied('missing_api_key', 401));
      const response = await check({});
      expect(seen[0]).toMatchObject({ apiKey: undefined, method: '', path: '', spoofedHeaders: [] });
      expect(response.status?.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(response.deniedResponse?.status?.code).toBe(401);
    });

    it.each(['1.5', '-1', 'five', ''])(
      'tollgate.cost %j is an operator error: INVALID_ARGUMENT naming the field',
      async (cost) => {
        const err = await checkError(envoyRequest({ 'x-api-key': KEY }, { 'tollgate.cost': cost }));
        expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
        expect(err.details).toContain('context_extensions["tollgate.cost"]');
        expect(seen).toEqual([]);
      },
    );
  });

  describe('Authorization/Check: allow', () => {
    it('status 0, identity upstream, key and spoofed headers removed, RateLimit headers to the client, append false everywhere', async () => {
      const response = await check(
        envoyRequest({ 'x-api-key': KEY, 'x-tollgate-account': 'acc_evil', 'x-tollgate-admin': 'yes' }),
      );
      expect(response.status).toEqual({ code: 0, message: '', details: [] });
      expect(response.deniedResponse).toBeUndefined();
      const ok = response.okResponse!;
      expect(asMap(ok.headers)).toEqual({
        'x-tollgate-account': 'acc_1',
        'x-tollgate-key-id': 'key_1',
        'x-tollgate-tier': 'free',
        'x-tollgate-endpoint': 'chat',
      });
      // x-tollgate-account is overwritten (append false), the other spoofed header removed.
      expect(ok.headersToRemove).toEqual(['x-api-key', 'authorization', 'x-tollgate-admin']);
      expect(asMap(ok.responseHeadersToAdd)).toEqual({
        'ratelimit-policy': '"per-minute";q=10;w=60',
        ratelimit: '"per-minute";r=7;t=31',
        'x-ratelimit-limit': '10',
        'x-ratelimit-remaining': '7',
        'x-ratelimit-reset': '31',
      });
      expect([...appends(ok.headers), ...appends(ok.responseHeadersToAdd)].every((a) => a === false)).toBe(
        true,
      );
      expect(ok.responseHeadersToAdd.every((o) => o.appendAction === 0)).toBe(true);
    });
  });

  describe('Authorization/Check: credentials never reach the app', () => {
    it('removes both key headers and every underscore / x-tollgate-* spelling the client sent', async () => {
      const response = await check(
        envoyRequest({
          'x-api-key': KEY,
          authorization: `Bearer ${KEY}`,
          x_api_key: KEY,
          'x-api_key': KEY,
          x_tollgate_account: 'acc_evil',
          'x-tollgate_tier': 'enterprise',
          'x-tollgate-anything': 'x',
          'x-tollgate-tier': 'enterprise',
        }),
      );
      const ok = response.okResponse!;
      expect(new Set(ok.headersToRemove)).toEqual(
        new Set([
          'x-api-key',
          'authorization',
          'x_api_key',
          'x-api_key',
          'x_tollgate_account',
          'x-tollgate_tier',
          'x-tollgate-anything',
        ]),
      );
      // Set by Tollgate (append false overwrites every copy), so not also removed.
      expect(asMap(ok.headers)['x-tollgate-tier']).toBe('free');
    });
  });

  describe('Authorization/Check: deny', () => {
    const problem = 'application/problem+json';
    const cases: Array<[string, Denied, number, Record<string, string>]> = [
      ['400 ambiguous path', denied('ambiguous_path', 400), GrpcStatus.INVALID_ARGUMENT, {}],
      [
        '401 missing key',
        denied('missing_api_key', 401),
        GrpcStatus.UNAUTHENTICATED,
        { 'www-authenticate': 'Bearer realm="tollgate"' },
      ],
      [
        '401 invalid key',
        denied('invalid_api_key', 401),
        GrpcStatus.UNAUTHENTICATED,
        { 'www-authenticate': 'Bearer realm="tollgate"' },
      ],
      [
        '402 quota',
        denied('quota_exceeded', 402, {
          identity,
          retryAfterSec: 86_400,
          violated: ['monthly-quota'],
          upgradeUrl: 'https://example.com/pricing',
        }),
        GrpcStatus.RESOURCE_EXHAUSTED,
        { 'retry-after': '86400' },
      ],
      [
        '402 credits',
        denied('insufficient_credits', 402, { identity, violated: ['credits'] }),
        GrpcStatus.RESOURCE_EXHAUSTED,
        {},
      ],
      ['403 suspended', denied('account_suspended', 403, { identity }), GrpcStatus.PERMISSION_DENIED, {}],
      [
        '403 not in plan',
        denied('endpoint_not_in_plan', 403, { identity, endpoint: 'export' }),
        GrpcStatus.PERMISSION_DENIED,
        {},
      ],
      [
        '429 rate limit',
        denied('rate_limit_exceeded', 429, {
          identity,
          retryAfterSec: 12,
          violated: ['per-minute'],
          policies: [{ ...perMinute, remaining: 0, resetSec: 12 }],
        }),
        GrpcStatus.RESOURCE_EXHAUSTED,
        { 'retry-after': '12', ratelimit: '"per-minute";r=0;t=12', 'x-envoy-ratelimited': 'true' },
      ],
    ];

    it.each(cases)(
      '%s: non-zero status, denied_response with HTTP status, headers (append false) and problem+json',
      async (_name, decision, grpcCode, headers) => {
        next = () => decision;
        const response = await check(envoyRequest({ 'x-api-key': KEY }));
        expect(response.status).toEqual({ code: grpcCode, message: decision.code, details: [] });
        expect(response.okResponse).toBeUndefined();
        const deny = response.deniedResponse!;
        expect(deny.status?.code).toBe(decision.status);
        const map = asMap(deny.headers);
        expect(map).toMatchObject({ 'content-type': problem, ...headers });
        expect('x-envoy-ratelimited' in map).toBe(decision.status === 429);
        expect(appends(deny.headers).every((a) => a === false)).toBe(true);
        const body = JSON.parse(deny.body) as Record<string, unknown>;
        expect(body).toMatchObject({ status: decision.status, code: decision.code, detail: decision.detail });
        if (decision.violated.length > 0) expect(body['violated-policies']).toEqual(decision.violated);
      },
    );
  });

  describe('Authorization/Check: failures are RPC errors', () => {
    it('StoreUnavailable → UNAVAILABLE (so failure_mode_allow decides)', async () => {
      next = () => Promise.reject(new StoreUnavailable('redis', 'timed out after 50 ms'));
      const err = await checkError(envoyRequest({ 'x-api-key': KEY }));
      expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
      expect(err.details).toBe('redis unavailable');
    });

    it('anything else → INTERNAL with a generic message; the key appears neither in the error nor in the logs', async () => {
      next = (request) => Promise.reject(new Error(`boom with ${request.apiKey}`));
      const err = await checkError(envoyRequest({ 'x-api-key': KEY }));
      expect(err.code).toBe(GrpcStatus.INTERNAL);
      expect(err.details).toBe('internal error');
      expect(logText).toContain('ext_authz: unexpected error');
      expect(logText).not.toContain(KEY);
    });
  });
});
