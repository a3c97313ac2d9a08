// Envoy's global rate-limit service over gRPC, as Envoy calls it: a generated RateLimitServiceClient
// against a grpc-js server on port 0 with the real RedisCounterStore and rules stored in a fresh
// Postgres database (savePolicy → PolicyHolder/loadPolicy, hot-reloaded like the rest of the policy).

import { randomBytes } from 'node:crypto';
import { credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { migrate } from '../../src/db/migrate.js';
import type { HeaderValue } from '../../src/generated/envoy/config/core/v3/base.js';
import {
  RateLimitRequest,
  RateLimitResponse_Code as Code,
  RateLimitResponse_RateLimit_Unit as Unit,
  RateLimitServiceClient,
  type DeepPartial,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { RateLimitUnit } from '../../src/generated/envoy/type/v3/ratelimit_unit.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { PolicyHolder } from '../../src/policy/policy-holder.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';
import { createShouldRateLimit, type ShouldRateLimit } from '../../src/rls/should-rate-limit.js';
import { MemoryWindowCounter } from '../../src/counters/memory-window-counter.js';
import type { GrpcListener, GrpcServerKind } from '../../src/transports/grpc/grpc-listener.js';
import { freshPostgres, type FreshPostgres } from '../support/databases.js';
import { GRPC_SERVERS, NO_CHECK, startGrpcListener } from '../support/grpc-servers.js';
import { REDIS_URL } from '../support/tollgate.js';

/** A fresh domain per run and server: fixed windows are aligned to the epoch and Redis is shared between runs. */
let DOMAIN = '';
const policyYaml = (perIp: number) => `
tiers:
  free: { quota: unlimited }
ratelimit_domains:
  ${DOMAIN}:
    descriptors:
      - key: remote_address
        rate_limit: { name: per-ip, algorithm: fixed_window, limit: ${perIp}, window: 1m }
      - key: path
        value: /api/*
        rate_limit: { name: api, algorithm: sliding_window, limit: 5, window: 1h }
      - key: user
        rate_limit: { algorithm: token_bucket, limit: 2, window: 10s, burst: 2 }
      - key: tenant
        value: internal
        rate_limit: { unlimited: true }
`;

const asMap = (headers: HeaderValue[]) => Object.fromEntries(headers.map((h) => [h.key, h.value]));
const entry = (key: string, value: string) => ({ key, value });

async function startServer(
  kind: GrpcServerKind,
  shouldRateLimit: ShouldRateLimit,
): Promise<{ server: GrpcListener; client: RateLimitServiceClient }> {
  const { listener, port } = await startGrpcListener(kind, { checkAccess: NO_CHECK, shouldRateLimit });
  return {
    server: listener,
    client: new RateLimitServiceClient(`127.0.0.1:${port}`, credentials.createInsecure()),
  };
}

function call(
  client: RateLimitServiceClient,
  request: DeepPartial<RateLimitRequest>,
): Promise<RateLimitResponse> {
  return new Promise((resolve, reject) =>
    client.shouldRateLimit(RateLimitRequest.fromPartial(request), (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

describe.each(GRPC_SERVERS)('RLS ShouldRateLimit end to end (Redis + Postgres, %s server)', (kind) => {
  let db: FreshPostgres;
  let redis: Redis;
  let holder: PolicyHolder;
  let server: GrpcListener;
  let client: RateLimitServiceClient;

  beforeAll(async () => {
    DOMAIN = `edge_${randomBytes(4).toString('hex')}`;
    db = await freshPostgres();
    await migrate(db.sql);
    const policy = parsePolicy(policyYaml(3));
    await savePolicy(db.sql, policy);
    expect(await loadPolicy(db.sql)).toStrictEqual(policy);
    holder = await PolicyHolder.load(db.sql, createLogger('silent'), 60_000);
    redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err) => {
      throw new Error(`this test needs Redis at ${REDIS_URL}: ${String(err)}`);
    });
    ({ server, client } = await startServer(
      kind,
      createShouldRateLimit({
        counters: new RedisCounterStore({ redis }),
        windows: new MemoryWindowCounter(),
        domains: () => holder.current.policy.ratelimitDomains ?? {},
      }),
    ));
  });

  afterAll(async () => {
    client?.close();
    await server?.close(0);
    holder?.close();
    redis?.disconnect();
    await db?.drop();
  });

  test('several descriptors in one request with hits_addend: statuses in order, headers, no body', async () => {
    const res = await call(client, {
      domain: DOMAIN,
      hitsAddend: 2,
      descriptors: [
        { entries: [entry('remote_address', '10.0.0.1')] },
        { entries: [entry('path', '/api/users')] },
        { entries: [entry('tenant', 'internal')] },
        { entries: [entry('other', 'x')] },
      ],
    });
    expect(res.overallCode).toBe(Code.OK);
    expect(res.statuses.map((s) => [s.code, s.limitRemaining])).toEqual([
      [Code.OK, 1],
      [Code.OK, 3],
      [Code.OK, 4_294_967_295],
      [Code.OK, 0],
    ]);
    expect(res.statuses[0]!.currentLimit).toEqual({ name: 'per-ip', requestsPerUnit: 3, unit: Unit.MINUTE });
    expect(res.statuses[1]!.currentLimit).toEqual({ name: 'api', requestsPerUnit: 5, unit: Unit.HOUR });
    expect(res.statuses[2]!.currentLimit).toBeUndefined();
    const reset = res.statuses[0]!.durationUntilReset!;
    expect(reset.seconds * 1000 + reset.nanos / 1e6).toBeGreaterThan(0);
    expect(reset.seconds).toBeLessThanOrEqual(60);
    const headers = asMap(res.responseHeadersToAdd);
    expect(headers['ratelimit-policy']).toBe('"per-ip";q=3;w=60, "api";q=5;w=3600');
    expect(headers['ratelimit']).toMatch(/^"per-ip";r=1;t=\d+, "api";r=3;t=\d+$/);
    expect(headers['content-type']).toBeUndefined();
    expect(res.rawBody.length).toBe(0);
  });

  test('over the limit: OVER_LIMIT overall and on that descriptor only, 429 body and retry-after', async () => {
    const ip = { entries: [entry('remote_address', '10.0.0.2')] };
    await call(client, { domain: DOMAIN, hitsAddend: 3, descriptors: [ip] });
    // Per-descriptor hits_addend 0 only checks: at the limit, still OK.
    const check = await call(client, { domain: DOMAIN, descriptors: [{ ...ip, hitsAddend: 0 }] });
    expect([check.overallCode, check.statuses[0]!.limitRemaining]).toEqual([Code.OK, 0]);
    const res = await call(client, {
      domain: DOMAIN,
      descriptors: [ip, { entries: [entry('path', '/api/other')] }],
    });
    expect(res.overallCode).toBe(Code.OVER_LIMIT);
    expect(res.statuses.map((s) => s.code)).toEqual([Code.OVER_LIMIT, Code.OK]);
    const headers = asMap(res.responseHeadersToAdd);
    expect(headers['content-type']).toBe('application/problem+json');
    expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const body = JSON.parse(res.rawBody.toString('utf8'));
    expect(body).toMatchObject({ status: 429, code: 'rate_limit_exceeded', 'violated-policies': ['per-ip'] });
  });

  test('a descriptor limit override is used instead of the rules; windows that are no unit report UNKNOWN', async () => {
    const limited = {
      entries: [entry('remote_address', '10.0.0.3')],
      limit: { requestsPerUnit: 1, unit: RateLimitUnit.SECOND },
    };
    const first = await call(client, { domain: DOMAIN, descriptors: [limited] });
    expect(first.statuses[0]!.currentLimit).toEqual({ name: '', requestsPerUnit: 1, unit: Unit.SECOND });
    const user = await call(client, { domain: DOMAIN, descriptors: [{ entries: [entry('user', 'u1')] }] });
    expect(user.statuses[0]!.currentLimit).toEqual({ name: '', requestsPerUnit: 2, unit: Unit.UNKNOWN });
    expect(user.statuses[0]!.limitRemaining).toBe(1);
  });

  test('rules are hot-reloaded with the rest of the policy', async () => {
    await savePolicy(db.sql, parsePolicy(policyYaml(100)));
    await holder.reload();
    const res = await call(client, {
      domain: DOMAIN,
      descriptors: [{ entries: [entry('remote_address', '10.0.0.9')] }],
    });
    expect(res.statuses[0]!.currentLimit!.requestsPerUnit).toBe(100);
  });

  test('bad requests are INVALID_ARGUMENT; a store failure is UNAVAILABLE so failure_mode_deny decides', async () => {
    const empty = await call(client, { domain: '', descriptors: [{ entries: [entry('a', 'b')] }] }).catch(
      (err: ServiceError) => err,
    );
    expect((empty as ServiceError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const absurd = {
      domain: DOMAIN,
      hitsAddend: 4_294_967_295,
      descriptors: [{ entries: [entry('remote_address', '10.0.0.9')] }],
    };
    const huge = await call(client, absurd).catch((err: ServiceError) => err);
    expect([(huge as ServiceError).code, (huge as ServiceError).details]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      'hits_addend: at most 1000000000',
    ]);
    const perDescriptor = {
      domain: DOMAIN,
      descriptors: [{ entries: [entry('remote_address', '10.0.0.9')], hitsAddend: 4_294_967_295 }],
    };
    const hugeToo = await call(client, perDescriptor).catch((err: ServiceError) => err);
    expect((hugeToo as ServiceError).details).toBe('descriptors[0].hits_addend: at most 1000000000');
    // Nothing listens on port 1: the real Redis client fails, the store throws StoreUnavailable.
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    const broken = await startServer(
      kind,
      createShouldRateLimit({
        counters: new RedisCounterStore({ redis: dead }),
        windows: new MemoryWindowCounter(),
        domains: () => holder.current.policy.ratelimitDomains ?? {},
      }),
    );
    try {
      const err = await call(broken.client, {
        domain: DOMAIN,
        descriptors: [{ entries: [entry('remote_address', '10.0.0.4')] }],
      }).catch((e: ServiceError) => e);
      expect((err as ServiceError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect((err as ServiceError).details).toBe('redis unavailable');
    } finally {
      broken.client.close();
      await broken.server.close(0);
      dead.disconnect();
    }
  });
});
