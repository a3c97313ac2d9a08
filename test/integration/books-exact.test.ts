// The books in every failure mode, on real Redis (an own redis-server the test pauses) and Postgres:
// a call answered 503 is never counted; FAILURE_MODE=local usage reaches Postgres exactly once; with
// Postgres unreachable a cold key is answered fast.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { openCounterStore } from '../../src/counters/open-counter-store.js';
import { StoreUnavailable } from '../../src/errors.js';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisProcess } from '../support/redis-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { prepareDatabase, startTollgate } from '../support/tollgate.js';
import { readUsageHash } from '../support/usage-fields.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function input(accountId: string): DecideInput {
  return {
    accountId,
    anchorDay: 1,
    units: 1,
    quota: { limit: 1_000_000, overage: false },
    credits: null,
    endpoint: 'items',
    limits: [
      {
        id: 'x',
        name: 'x',
        algorithm: 'fixed_window',
        limit: 1_000_000,
        windowMs: 60_000,
        shadow: false,
        hits: 1,
      },
    ],
  };
}

describe('a call answered 503 is never counted (FAILURE_MODE=closed, default REDIS_TIMEOUT_MS)', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('calls in flight when Redis hangs are answered unavailable and consume nothing once it resumes', async () => {
    const store = await openCounterStore(loadConfig({ REDIS_URL: redis.url, FAILURE_MODE: 'closed' }));
    const admin = new Redis(redis.url);
    const rounds: Array<{ allowed: number; failed: number; calls: number; quota: number }> = [];
    try {
      for (let round = 0; round < 5; round++) {
        const account = `books-${round}`;
        const allowed = (
          await Promise.all(Array.from({ length: 50 }, () => store.decide(input(account))))
        ).filter((r) => r.allowed).length;
        // Written to the socket, then Redis stops: these are in flight when it hangs.
        const inFlight = Array.from({ length: 10 }, () =>
          store.decide(input(account)).then(
            () => 'decided',
            (err: unknown) => (err instanceof StoreUnavailable ? 'unavailable' : String(err)),
          ),
        );
        redis.pause();
        const outcomes = await Promise.all(inFlight);
        redis.resume();
        await sleep(100); // the late scripts run now, past their deadline
        const usage = await readUsageHash(admin, account);
        const calls = Object.entries(usage)
          .filter(([f]) => f.endsWith('|calls'))
          .reduce((sum, [, v]) => sum + Number(v), 0);
        const quota = Number(await admin.hget(`{a:${account}}:quota`, 'u'));
        const decided = outcomes.filter((o) => o === 'decided').length;
        rounds.push({ allowed: allowed + decided, failed: outcomes.length - decided, calls, quota });
        // Wait for the replica to leave degraded state before the next round.
        while (store.degraded) await sleep(20);
      }
    } finally {
      admin.disconnect();
      await store.close();
    }
    console.log(`[503 never counted] ${JSON.stringify(rounds)}`);
    for (const r of rounds) {
      expect(r.calls).toBe(r.allowed);
      expect(r.quota).toBe(r.allowed);
    }
    expect(rounds.reduce((n, r) => n + r.failed, 0)).toBeGreaterThan(0);
  }, 60_000);
});

describe('Postgres unreachable: key lookups give up after PG_TIMEOUT_MS', () => {
  it('cached keys are served; a cold key gets 503 unavailable and an unknown one 401, each within 1 s', async () => {
    const db = await prepareDatabase({
      accounts: [
        { label: 'warm', tier: 'enterprise' },
        { label: 'cold', tier: 'enterprise' },
      ],
    });
    const url = new URL(db.url);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const t = await startTollgate({
      accounts: [],
      database: { ...db, url: url.toString(), drop: async () => {} },
      env: { PG_TIMEOUT_MS: '' }, // the default, 250 ms
    });
    const ask = async (key: string) => {
      const start = performance.now();
      const res = await fetch(`http://127.0.0.1:${t.httpPort}/ext_authz/v1/anything`, {
        headers: { 'x-api-key': key },
      });
      const body = await res.text();
      return {
        status: res.status,
        code: res.status === 200 ? 'ok' : JSON.parse(body).code,
        ms: performance.now() - start,
      };
    };
    try {
      expect((await ask(db.keys['warm']!)).status).toBe(200);
      proxy.stall(); // a black hole: no refusal, nothing answers
      const warm = await ask(db.keys['warm']!);
      const cold = await ask(db.keys['cold']!);
      // Well-formed, never issued: the in-process key filter knows it is unknown without Postgres.
      const unknown = await ask(`tg_live_${'a'.repeat(32)}`);
      console.log(`[postgres unreachable] ${JSON.stringify({ warm, cold, unknown })}`);
      expect(warm.status).toBe(200);
      expect(cold).toMatchObject({ status: 503, code: 'unavailable' });
      expect(unknown).toMatchObject({ status: 401, code: 'invalid_api_key' });
      expect(cold.ms).toBeLessThan(1_000);
      expect(unknown.ms).toBeLessThan(1_000);
    } finally {
      await proxy.restore();
      await t.stop();
      await proxy.close();
      await db.drop();
    }
  }, 60_000);
});

describe('FAILURE_MODE=local: the calls the insurance counters allow are usage', () => {
  const POLICY = `
tiers:
  metered:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 100000, window: 60s }
    quota: { requests: 100000, period: month }
    credits_per_request: 1
endpoints:
  items:
    match: { path: /v1/items/** }
`;
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('before, during and after an outage: usage_monthly and the credit ledger hold every allowed call once', async () => {
    const db = await prepareDatabase({
      policyYaml: POLICY,
      accounts: [{ label: 'm', tier: 'metered', credits: 1_000 }],
    });
    const t = await startTollgate({
      accounts: [],
      database: db,
      env: { REDIS_URL: redis.url, FAILURE_MODE: 'local', REDIS_TIMEOUT_MS: '', USAGE_FLUSH_MS: '200' },
    });
    const statuses: Record<string, number> = {};
    const calls = async (n: number, phase: string) => {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`http://127.0.0.1:${t.httpPort}/ext_authz/v1/items/1`, {
          headers: { 'x-api-key': t.keys['m']! },
        });
        await res.arrayBuffer();
        const label = `${phase}:${res.status}${res.headers.get('x-tollgate-degraded') ? '+degraded' : ''}`;
        statuses[label] = (statuses[label] ?? 0) + 1;
      }
    };
    const sql = new PostgresSql(t.databaseUrl);
    try {
      await calls(20, 'before');
      await sleep(400); // Redis has flushed nothing yet or some of it: either way, once
      redis.pause(); // hung, not dead: its counts survive, so "before" must reach Postgres too
      await calls(30, 'outage');
      redis.resume();
      const metrics = `http://127.0.0.1:${t.httpPort}/metrics`;
      while (/^tollgate_degraded 1/m.test(await (await fetch(metrics)).text())) await sleep(20);
      await calls(10, 'after');
      await t.stop(); // the drain's last flush
      const [usage] = await sql.query<{ calls: number; units: number; credits: number }>(
        'select sum(calls)::int as calls, sum(units)::int as units, sum(credits)::int as credits from usage_monthly where account_id = $1',
        [t.accounts['m']],
      );
      const [ledger] = await sql.query<{ debited: number }>(
        "select coalesce(-sum(delta), 0)::int as debited from credit_ledger where account_id = $1 and reason = 'usage'",
        [t.accounts['m']],
      );
      console.log(`[local mode books] ${JSON.stringify({ statuses, usage, ledger })}`);
      const allowed = Object.entries(statuses)
        .filter(([k]) => /:200/.test(k))
        .reduce((n, [, v]) => n + v, 0);
      expect(statuses['outage:200+degraded']).toBe(30);
      expect(allowed).toBe(60);
      expect(usage).toEqual({ calls: allowed, units: allowed, credits: allowed });
      expect(ledger!.debited).toBe(allowed);
    } finally {
      await sql.close();
      await db.drop();
    }
  }, 60_000);
});
