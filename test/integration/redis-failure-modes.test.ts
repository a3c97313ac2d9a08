// FAILURE_MODE for real: the app in-process on its own redis-server (never the shared 6379), which the
// test pauses (SIGSTOP) under load and kills; latency, answers and recovery are measured and printed.

import { credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type FailureMode } from '../../src/config.js';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { openCounterStore } from '../../src/counters/open-counter-store.js';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { startRedisServer, type RedisProcess } from '../support/redis-server.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const TIMEOUT_MS = 50;
/** Scheduling slack on 2 shared cores (timers fire late on a busy event loop). */
const MARGIN_MS = 50;

const POLICY = `
tiers:
  load:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 1000000, window: 60s }
    quota: unlimited
  tight:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 10, window: 60s }
    quota: unlimited
endpoints:
  items:
    match: { path: /v1/items/** }
`;

const INPUT: DecideInput = {
  accountId: `fm-${process.pid}`,
  anchorDay: 1,
  units: 1,
  quota: null,
  credits: null,
  endpoint: '',
  limits: [
    { id: 'x', name: 'x', algorithm: 'fixed_window', limit: 1000, windowMs: 60_000, shadow: false, hits: 1 },
  ],
};

interface Answer {
  status: number;
  degraded: boolean;
  ms: number;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

async function ask(t: TestTollgate, key: string): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(`http://127.0.0.1:${t.httpPort}/ext_authz/v1/items/1`, {
    headers: { 'x-api-key': key },
  });
  await res.arrayBuffer();
  return {
    status: res.status,
    degraded: res.headers.get('x-tollgate-degraded') === 'true',
    ms: performance.now() - start,
  };
}

/** `concurrency` clients asking in a loop for `durationMs`. */
async function load(t: TestTollgate, key: string, durationMs: number, concurrency = 16): Promise<Answer[]> {
  const answers: Answer[] = [];
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) answers.push(await ask(t, key));
    }),
  );
  return answers;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(answers: Answer[]) {
  const statuses: Record<string, number> = {};
  for (const a of answers) {
    const label = `${a.status}${a.degraded ? '+degraded' : ''}`;
    statuses[label] = (statuses[label] ?? 0) + 1;
  }
  const ms = answers.map((a) => a.ms);
  return {
    n: answers.length,
    statuses,
    p50: +percentile(ms, 50).toFixed(1),
    p99: +percentile(ms, 99).toFixed(1),
    max: +Math.max(...ms).toFixed(1),
  };
}

/**
 * Decisions straight through the app's checkAccess (what every transport calls), `concurrency` at a
 * time for `durationMs`: the decision latency, without HTTP client and server sharing this process.
 */
async function decisions(
  t: TestTollgate,
  key: string,
  durationMs: number,
  concurrency = 8,
): Promise<number[]> {
  const ms: number[] = [];
  const end = performance.now() + durationMs;
  const request = {
    transport: 'http' as const,
    apiKey: key,
    keyHeader: 'x-api-key' as const,
    method: 'GET',
    path: '/v1/items/1',
    spoofedHeaders: [],
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await t.app.checkAccess({ ...request }).catch(() => undefined);
        ms.push(performance.now() - start);
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  return ms;
}

/** Polls every 10 ms until `normal` holds; returns how long that took. */
async function timeUntil(normal: () => Promise<boolean>, limitMs = 5_000): Promise<number> {
  const start = performance.now();
  while (!(await normal())) {
    if (performance.now() - start > limitMs) throw new Error(`not back to normal within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - start;
}

function grpcCheck(
  client: AuthorizationClient,
  key: string,
): Promise<{ err: ServiceError | null; response: CheckResponse | undefined }> {
  const headers = { ':method': 'GET', ':path': '/v1/items/1', 'x-api-key': key };
  const request = CheckRequest.fromPartial({
    attributes: { request: { http: { method: 'GET', path: '/v1/items/1', headers } } },
  });
  return new Promise((resolve) => client.check(request, (err, response) => resolve({ err, response })));
}

describe('Redis paused or killed under load (own redis-server)', () => {
  let redis: RedisProcess;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedisServer();
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis?.stop();
  });

  async function start(mode: FailureMode): Promise<TestTollgate> {
    return startTollgate({
      policyYaml: POLICY,
      accounts: [
        { label: 'load', tier: 'load' },
        { label: 'tight', tier: 'tight' },
      ],
      env: { REDIS_URL: redis.url, FAILURE_MODE: mode, REDIS_TIMEOUT_MS: String(TIMEOUT_MS) },
      app: { drainDelayMs: 0, readinessIntervalMs: 60_000 },
    });
  }

  it.each(['closed', 'open', 'local'] as const)(
    'FAILURE_MODE=%s: paused Redis → bounded latency, answers by the mode, normal within 1 s of SIGCONT',
    async (mode) => {
      const t = await start(mode);
      const client = new AuthorizationClient(`127.0.0.1:${t.grpcPort}`, credentials.createInsecure());
      try {
        const healthy = await load(t, t.keys['load']!, 300, 8);
        expect(healthy.every((a) => a.status === 200 && !a.degraded)).toBe(true);

        redis.pause();
        let paused: Answer[];
        let decided: number[];
        const tight: Answer[] = [];
        let grpc: Awaited<ReturnType<typeof grpcCheck>>;
        try {
          [paused, decided] = await Promise.all([
            load(t, t.keys['load']!, 1_000, 8),
            decisions(t, t.keys['load']!, 1_000),
          ]);
          for (let i = 0; i < 15; i++) tight.push(await ask(t, t.keys['tight']!));
          grpc = await grpcCheck(client, t.keys['load']!);
        } finally {
          redis.resume();
        }
        const resumedIn = await timeUntil(async () => {
          const a = await ask(t, t.keys['load']!);
          return a.status === 200 && !a.degraded;
        });
        const after = await load(t, t.keys['load']!, 200, 8);
        const decision = {
          n: decided.length,
          p50: +percentile(decided, 50).toFixed(1),
          p99: +percentile(decided, 99).toFixed(1),
          max: +Math.max(...decided).toFixed(1),
        };
        const figures = {
          mode,
          healthy: summary(healthy),
          pausedDecisionMs: decision,
          pausedHttp: summary(paused),
          tight: summary(tight),
          resumedInMs: Math.round(resumedIn),
          after: summary(after),
        };
        console.log(`[failure mode ${mode}] ${JSON.stringify(figures)}`);

        expect(decision.p99).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
        expect(resumedIn).toBeLessThan(1_000);
        expect(after.every((a) => a.status === 200 && !a.degraded)).toBe(true);
        if (mode === 'closed') {
          expect(paused.every((a) => a.status === 503)).toBe(true);
          expect(grpc.err?.code).toBe(14); // UNAVAILABLE
        } else {
          expect(paused.every((a) => a.status === 200 && a.degraded)).toBe(true);
          expect(grpc.err).toBeNull();
          expect(grpc.response?.status?.code).toBe(0);
          expect(grpc.response?.okResponse?.headers.map((h) => h.header?.key)).toContain(
            'x-tollgate-degraded',
          );
        }
        if (mode === 'open') expect(tight.every((a) => a.status === 200 && a.degraded)).toBe(true);
        if (mode === 'local') {
          // Insurance: the tight tier's 10 per minute, counted in this replica alone.
          expect(tight.map((a) => a.status)).toEqual([...Array(10).fill(200), ...Array(5).fill(429)]);
          expect(tight.slice(0, 10).every((a) => a.degraded)).toBe(true); // denials carry no upstream headers
        }
      } finally {
        client.close();
        await t.stop();
      }
    },
  );

  it('Redis killed and restarted: fast answers while down, no unhandled rejection or crash, service resumes; a store opened while it is down starts degraded', async () => {
    const closed = await start('closed');
    try {
      expect((await ask(closed, closed.keys['load']!)).status).toBe(200);
      await redis.kill();
      const [down, downDecisions] = await Promise.all([
        load(closed, closed.keys['load']!, 500, 8),
        decisions(closed, closed.keys['load']!, 500),
      ]);
      // FAILURE_MODE=open opened while Redis is down: starts degraded instead of failing (closed refuses to start).
      const config = loadConfig({
        REDIS_URL: redis.url,
        FAILURE_MODE: 'open',
        REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
      });
      const open = await openCounterStore(config);
      try {
        await expect(openCounterStore({ ...config, failureMode: 'closed' })).rejects.toThrow();
        const openDown = await open.decide(INPUT);
        const restartedAt = performance.now();
        await redis.restart();
        const restartMs = performance.now() - restartedAt;
        const closedBackIn = await timeUntil(
          async () => (await ask(closed, closed.keys['load']!)).status === 200,
        );
        const openBackIn = await timeUntil(async () => !open.degraded);
        const figures = {
          downHttp: summary(down),
          downDecisionP99Ms: +percentile(downDecisions, 99).toFixed(1),
          openStoreWhileDown: { allowed: openDown.allowed, degraded: openDown.degraded },
          redisRestartMs: Math.round(restartMs),
          closedBackInMs: Math.round(closedBackIn),
          openStoreBackInMs: Math.round(openBackIn),
        };
        console.log(`[redis killed] ${JSON.stringify(figures)}`);
        expect(down.every((a) => a.status === 503)).toBe(true);
        expect(figures.downDecisionP99Ms).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
        expect(openDown).toMatchObject({ allowed: true, degraded: true });
        expect(closedBackIn).toBeLessThan(3_000);
        expect(openBackIn).toBeLessThan(3_000);
        expect((await open.decide(INPUT)).degraded).toBeUndefined();
      } finally {
        await open.close();
      }
      expect(unhandled).toEqual([]);
    } finally {
      await closed.stop();
    }
  });
});
