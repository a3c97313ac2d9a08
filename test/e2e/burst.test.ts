// Load is not an outage: the real server process (node dist/main.js, default settings, real Redis and
// Postgres) gets bursts of 200, 600 and 1,000 calls all in flight at once on /check, ext_authz gRPC
// and RLS, and decides every one (no 503, no UNAVAILABLE, no overloaded, no degraded answer). Then the
// same with MAX_INFLIGHT set low: the excess is shed as `overloaded` (403 + X-Tollgate-Status 503 on
// /check, RESOURCE_EXHAUSTED on gRPC), counted in tollgate_overloaded_total, never as "Redis down".

import { randomBytes } from 'node:crypto';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import {
  RateLimitRequest,
  RateLimitResponse_Code as Code,
  RateLimitServiceClient,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { freePort } from '../support/free-port.js';
import { startServer, type Server } from '../support/processes.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { prepareDatabase, REDIS_URL, type PreparedDatabase } from '../support/tollgate.js';

const DOMAIN = `burst_${randomBytes(4).toString('hex')}`;
const POLICY = `
tiers:
  load:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 100000000, window: 60s }
    quota: unlimited
endpoints:
  items:
    match: { path: /v1/items/** }
ratelimit_domains:
  ${DOMAIN}:
    descriptors:
      - key: remote_address
        rate_limit: { name: per-ip, algorithm: fixed_window, limit: 100000000, window: 1m }
`;
const ACCOUNTS = Array.from({ length: 10 }, (_, i) => ({ label: `a${i}`, tier: 'load' }));
const BURSTS = [200, 600, 1000];

/** One answer, reduced to what the test counts: decided, or the failure it was. */
type Outcome = 'decided' | 'degraded' | 'unavailable' | 'overloaded' | `other:${string}`;

interface Replica {
  server: Server;
  http: string;
  metrics: string;
  grpc: string;
}

async function startReplica(db: PreparedDatabase, env: Record<string, string> = {}): Promise<Replica> {
  const [httpPort, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const server = startServer({
    DATABASE_URL: db.url,
    REDIS_URL,
    HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    ADMIN_PORT: String(adminPort),
    ADMIN_TOKEN: 'test-admin-token-0123456789',
    LOG_LEVEL: 'info',
    ...env,
  });
  await server.waitFor(/tollgate listening/, 30_000);
  const http = `http://127.0.0.1:${httpPort}`;
  return { server, http, metrics: `${http}/metrics`, grpc: `127.0.0.1:${grpcPort}` };
}

async function check(r: Replica, key: string): Promise<Outcome> {
  try {
    const res = await fetch(`${r.http}/check`, {
      headers: { 'x-api-key': key, 'x-original-uri': '/v1/items/1', 'x-original-method': 'GET' },
    });
    await res.arrayBuffer();
    const code = res.headers.get('x-tollgate-code');
    if (res.status === 204) return res.headers.get('x-tollgate-degraded') ? 'degraded' : 'decided';
    if (res.status === 403 && res.headers.get('x-tollgate-status') === '503' && code === 'overloaded')
      return 'overloaded';
    if (res.status === 503) return 'unavailable';
    return `other:${res.status} ${code}`;
  } catch (err) {
    return `other:${(err as Error).message}`;
  }
}

function extAuthz(client: AuthorizationClient, key: string): Promise<Outcome> {
  const headers = { ':method': 'GET', ':path': '/v1/items/1', 'x-api-key': key };
  const request = CheckRequest.fromPartial({
    attributes: { request: { http: { method: 'GET', path: '/v1/items/1', headers } } },
  });
  return new Promise((resolve) =>
    client.check(request, (err: ServiceError | null, res?: CheckResponse) => {
      if (err) return resolve(grpcOutcome(err));
      if (res?.status?.code !== 0) return resolve(`other:denied ${res?.status?.code}`);
      const degraded = res.okResponse?.headers.some((h) => h.header?.key === 'x-tollgate-degraded');
      resolve(degraded ? 'degraded' : 'decided');
    }),
  );
}

function rls(client: RateLimitServiceClient, i: number): Promise<Outcome> {
  const request = RateLimitRequest.fromPartial({
    domain: DOMAIN,
    descriptors: [{ entries: [{ key: 'remote_address', value: `10.0.${i % 200}.1` }] }],
  });
  return new Promise((resolve) =>
    client.shouldRateLimit(request, (err: ServiceError | null, res?: RateLimitResponse) => {
      if (err) return resolve(grpcOutcome(err));
      resolve(res?.overallCode === Code.OK ? 'decided' : `other:overall ${res?.overallCode}`);
    }),
  );
}

function grpcOutcome(err: ServiceError): Outcome {
  if (err.code === 14) return 'unavailable';
  if (err.code === 8) return 'overloaded'; // RESOURCE_EXHAUSTED
  return `other:grpc ${err.code} ${err.details}`;
}

interface BurstResult {
  n: number;
  counts: Record<string, number>;
  p99Ms: number;
}

/** `n` calls started in the same tick (all in flight at once); each one's outcome and latency. */
async function burst(n: number, one: (i: number) => Promise<Outcome>): Promise<BurstResult> {
  const ms: number[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const start = performance.now();
      const outcome = await one(i);
      ms.push(performance.now() - start);
      return outcome;
    }),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  ms.sort((a, b) => a - b);
  return { n, counts, p99Ms: Math.round(ms[Math.min(ms.length - 1, Math.floor(0.99 * ms.length))]!) };
}

/** An unlabelled metric's value from the replica's /metrics. */
async function scrape(r: Replica): Promise<(name: string) => number | undefined> {
  const samples = parsePrometheusText(await (await fetch(r.metrics)).text());
  return (name) => sampleValue(samples, name, {});
}

describe('bursts on one replica with default settings', () => {
  let db: PreparedDatabase;
  let replica: Replica | undefined;
  const clients: Array<{ close(): void }> = [];

  beforeAll(async () => {
    db = await prepareDatabase({ policyYaml: POLICY, accounts: ACCOUNTS });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await replica?.server.stop();
    await db?.drop();
  });

  async function transports(r: Replica) {
    const authz = new AuthorizationClient(r.grpc, credentials.createInsecure());
    const limits = new RateLimitServiceClient(r.grpc, credentials.createInsecure());
    clients.push(authz, limits);
    const keys = ACCOUNTS.map((a) => db.keys[a.label]!);
    // Warm: keys cached, gRPC connections up (a cold start is not what this test is about).
    for (const key of keys) expect(await check(r, key)).toBe('decided');
    expect(await extAuthz(authz, keys[0]!)).toBe('decided');
    expect(await rls(limits, 0)).toBe('decided');
    return {
      '/check': (i: number) => check(r, keys[i % keys.length]!),
      ext_authz: (i: number) => extAuthz(authz, keys[i % keys.length]!),
      rls: (i: number) => rls(limits, i),
    };
  }

  it('200, 600 and 1,000 in flight at once on each transport: every call decided', async () => {
    replica = await startReplica(db);
    const calls = await transports(replica);
    const results: Record<string, BurstResult[]> = {};
    for (const [name, one] of Object.entries(calls)) {
      results[name] = [];
      for (const n of BURSTS) results[name].push(await burst(n, one));
    }
    const metrics = await scrape(replica);
    console.log(`[burst, defaults] ${JSON.stringify(results)}`);
    const log = replica.server.output();
    if (/"level":(40|50)/.test(log))
      console.log(
        `[burst, defaults] server warnings:\n${log
          .split('\n')
          .filter((l) => /"level":(40|50)/.test(l))
          .slice(0, 20)
          .join('\n')}`,
      );
    for (const [name, list] of Object.entries(results))
      for (const r of list)
        expect({ name, n: r.n, counts: r.counts }).toEqual({ name, n: r.n, counts: { decided: r.n } });
    expect(metrics('tollgate_degraded')).toBe(0);
    expect(metrics('tollgate_overloaded_total')).toBe(0);
    await replica.server.stop();
    replica = undefined;
  }, 180_000);

  it('MAX_INFLIGHT set low: the excess is shed as overloaded on every transport and counted', async () => {
    replica = await startReplica(db, { MAX_INFLIGHT: '20' });
    const calls = await transports(replica);
    const results: Record<string, BurstResult> = {};
    for (const [name, one] of Object.entries(calls)) results[name] = await burst(600, one);
    const metrics = await scrape(replica);
    console.log(`[burst, MAX_INFLIGHT=20] ${JSON.stringify(results)}`);
    let shed = 0;
    // On a failure, the replica's own lines say which store it found unavailable and why.
    const storeLines = () =>
      (replica?.server.output() ?? '')
        .split('\n')
        .filter((line) => /unavailable|stall|timed out/i.test(line))
        .slice(0, 5)
        .join('\n');
    for (const [name, r] of Object.entries(results)) {
      const { decided = 0, overloaded = 0, ...rest } = r.counts;
      // No unavailable, no degraded, nothing else.
      expect({ name, rest }, storeLines()).toEqual({ name, rest: {} });
      expect(overloaded).toBeGreaterThan(0);
      expect(decided).toBeGreaterThan(0);
      shed += overloaded;
    }
    expect(metrics('tollgate_overloaded_total')).toBe(shed);
    expect(metrics('tollgate_degraded')).toBe(0);
    await replica.server.stop();
    replica = undefined;
  }, 180_000);
});
