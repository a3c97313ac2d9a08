// grpc.health.v1 on both real gRPC servers (port 0), called with the generated client: Check, List, Watch.

import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthClient,
  type HealthCheckResponse,
} from '../../src/generated/grpc/health/v1/health.js';
import { Readiness } from '../../src/health/readiness.js';
import type { GrpcListener } from '../../src/transports/grpc/grpc-listener.js';
import { createHealthService, type GrpcHealth } from '../../src/transports/grpc/health.js';
import { GRPC_SERVERS, NO_CHECK, startGrpcListener } from '../support/grpc-servers.js';

const NAMES = [
  '',
  'readiness',
  'envoy.service.auth.v3.Authorization',
  'envoy.service.ratelimit.v3.RateLimitService',
];
const deadline = () => ({ deadline: Date.now() + 2_000 });

describe.each(GRPC_SERVERS)('grpc.health.v1.Health (%s server)', (kind) => {
  let dependencyUp = true;
  const readiness = new Readiness({
    checks: [
      {
        name: 'dependency',
        run: async () => {
          if (!dependencyUp) throw new Error('down');
        },
      },
    ],
    policyLoaded: () => true,
    intervalMs: 60_000,
  });
  let health: GrpcHealth;
  let server: GrpcListener | undefined;
  let client: HealthClient;

  const check = (service: string) =>
    new Promise<HealthCheckResponse>((resolve, reject) =>
      client.check({ service }, new Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res))),
    );

  /** Collects Watch messages; `next(n)` resolves once n have arrived. */
  function watch(service: string) {
    const statuses: Status[] = [];
    const waiters: Array<() => void> = [];
    const stream = client.watch({ service });
    stream.on('data', (res: HealthCheckResponse) => {
      statuses.push(res.status);
      waiters.splice(0).forEach((wake) => wake());
    });
    const ended = new Promise<ServiceError | null>((resolve) => {
      stream.on('error', (err: ServiceError) => resolve(err));
      stream.on('end', () => resolve(null));
    });
    const next = async (count: number) => {
      const until = Date.now() + 2_000;
      while (statuses.length < count) {
        if (Date.now() > until)
          throw new Error(`Watch(${service}) got ${JSON.stringify(statuses)}, wanted ${count} messages`);
        await new Promise<void>((wake) => {
          waiters.push(wake);
          setTimeout(wake, 100);
        });
      }
      return statuses.slice(0, count);
    };
    return { stream, statuses, next, ended };
  }

  beforeAll(async () => {
    await readiness.start();
    health = createHealthService(readiness);
    const started = await startGrpcListener(kind, { checkAccess: NO_CHECK, health: health.service });
    server = started.listener;
    const port = started.port;
    client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    readiness.stop();
    await server?.close(1_000);
  });

  it('answers SERVING for every registered name while ready', async () => {
    for (const name of NAMES) expect((await check(name)).status, name).toBe(Status.SERVING);
  });

  it('fails Check of an unregistered name with NOT_FOUND', async () => {
    const err = (await check('no.such.Service').catch((e: ServiceError) => e)) as ServiceError;
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
  });

  it('lists every registered name', async () => {
    const list = await new Promise<Record<string, HealthCheckResponse>>((resolve, reject) =>
      client.list({}, new Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res.statuses))),
    );
    expect(Object.keys(list).sort()).toEqual([...NAMES].sort());
    expect(Object.values(list).every((s) => s.status === Status.SERVING)).toBe(true);
  });

  it('Watch sends the current status at once and every change; a lost dependency only affects readiness', async () => {
    const overall = watch('readiness');
    const api = watch('envoy.service.auth.v3.Authorization');
    expect(await overall.next(1)).toEqual([Status.SERVING]);
    expect(await api.next(1)).toEqual([Status.SERVING]);

    dependencyUp = false;
    await readiness.check();
    expect(await overall.next(2)).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect((await check('readiness')).status).toBe(Status.NOT_SERVING);
    // "" is what a kubelet liveness probe asks: a dependency outage must not restart the pod.
    expect((await check('')).status).toBe(Status.SERVING);
    expect((await check('envoy.service.auth.v3.Authorization')).status).toBe(Status.SERVING);

    dependencyUp = true;
    await readiness.check();
    expect(await overall.next(3)).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    expect(api.statuses).toEqual([Status.SERVING]);
    overall.stream.cancel();
    api.stream.cancel();
  });

  it('Watch of an unknown name sends SERVICE_UNKNOWN and keeps the stream open', async () => {
    const unknown = watch('no.such.Service');
    expect(await unknown.next(1)).toEqual([Status.SERVICE_UNKNOWN]);
    const outcome = await Promise.race([
      unknown.ended.then(() => 'ended'),
      new Promise((r) => setTimeout(() => r('open'), 300)),
    ]);
    expect(outcome).toBe('open');
    unknown.stream.cancel();
  });

  it('on drain every name turns NOT_SERVING, open Watches are told, then ended so the server can stop', async () => {
    const overall = watch('readiness');
    const api = watch('envoy.service.ratelimit.v3.RateLimitService');
    await overall.next(1);
    await api.next(1);
    readiness.drain();
    expect(await overall.next(2)).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect(await api.next(2)).toEqual([Status.SERVING, Status.NOT_SERVING]);
    for (const name of NAMES) expect((await check(name)).status, name).toBe(Status.NOT_SERVING);
    health.endWatches();
    expect(await overall.ended).toBeNull();
    expect(await api.ended).toBeNull();
    // A Watch opened after the end is answered and closed at once.
    const late = watch('');
    expect(await late.next(1)).toEqual([Status.NOT_SERVING]);
    expect(await late.ended).toBeNull();
  });
});

describe('Readiness reasons (the /readyz body)', () => {
  it('names each failed check, a missing policy, and draining', async () => {
    let policy = false;
    const readiness = new Readiness({
      checks: [{ name: 'redis', run: () => Promise.reject(new Error('ECONNREFUSED')) }],
      policyLoaded: () => policy,
      intervalMs: 60_000,
    });
    expect(readiness.reasons).toEqual(['starting: the first readiness check has not finished']);
    await readiness.check();
    expect(readiness.ready).toBe(false);
    expect(readiness.reasons).toEqual([
      'redis: no answer to PING (FAILURE_MODE=closed refuses every call while Redis is down; check REDIS_URL)',
      'no policy stored: apply one with `tollgate apply <policy.yaml>`, PUT /admin/policy or POLICY_FILE',
    ]);
    policy = true;
    readiness.drain();
    expect(readiness.reasons).toEqual([
      'shutting down (SIGTERM received): draining before the listeners close',
    ]);
    readiness.stop();
  });
});
