// Two Tollgate processes (node dist/main.js) sharing one Postgres database and one Redis (single, then a
// local three-master cluster): 200 concurrent clients on one key → limits, credits and quota are exact.

import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Server } from '../support/processes.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { prepareDatabase, REDIS_URL, type PreparedDatabase } from '../support/tollgate.js';

const N = 50;
const CLIENTS = 200;
const CALLS_PER_CLIENT = 2;
/** Calls per key: the clients' plus one warm-up per replica. */
const TOTAL = CLIENTS * CALLS_PER_CLIENT + 2;
/** Token bucket of N refilling N per hour: under one token per minute refills during the test. */
const POLICY = `
tiers:
  fw:
    limits: [{ name: fw, algorithm: fixed_window, limit: ${N}, window: 3600s }]
    quota: unlimited
  tb:
    limits: [{ name: tb, algorithm: token_bucket, limit: ${N}, window: 3600s, burst: ${N} }]
    quota: unlimited
  sw:
    limits: [{ name: sw, algorithm: sliding_window, limit: ${N}, window: 3600s }]
    quota: unlimited
  credits:
    limits: [{ name: big, algorithm: fixed_window, limit: 100000, window: 60s }]
    quota: unlimited
    credits_per_request: 1
  quota:
    limits: [{ name: big, algorithm: fixed_window, limit: 100000, window: 60s }]
    quota: { requests: ${N}, period: month }
endpoints:
  items:
    match: { path: /v1/items/** }
`;
const ACCOUNTS = ['fw', 'tb', 'sw', 'credits', 'quota'];
const CREDITS = 30;

interface Replica {
  server: Server;
  httpPort: number;
}

async function startReplica(env: Record<string, string>): Promise<Replica> {
  const server = startServer({
    HOST: '127.0.0.1',
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    ADMIN_PORT: '0',
    ADMIN_TOKEN: 'test-admin-token-0123456789',
    REDIS_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'info',
    ...env,
  });
  const output = await server.waitFor(/"msg":"tollgate listening"/, 30_000);
  const line = output.split('\n').find((l) => l.includes('"msg":"tollgate listening"'))!;
  return { server, httpPort: (JSON.parse(line) as { httpPort: number }).httpPort };
}

/**
 * One warm-up call per replica (its key cache then holds the key, so neither replica lags behind on a
 * Postgres lookup), then 200 clients, each calling twice in a row, alternating between the replicas.
 * The warm-up calls count: `statuses` holds them too.
 */
async function hammer(
  replicas: Replica[],
  key: string,
): Promise<{ statuses: number[]; perReplica: number[]; ms: number }> {
  const perReplica = replicas.map(() => 0);
  const warm: number[] = [];
  for (const [r, replica] of replicas.entries()) {
    const res = await fetch(`http://127.0.0.1:${replica.httpPort}/ext_authz/v1/items/warm`, {
      headers: { 'x-api-key': key },
    });
    await res.arrayBuffer();
    if (res.status === 200) perReplica[r]!++;
    warm.push(res.status);
  }
  const start = performance.now();
  const statuses = (
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const out: number[] = [];
        for (let call = 0; call < CALLS_PER_CLIENT; call++) {
          const r = (client + call) % replicas.length;
          const res = await fetch(`http://127.0.0.1:${replicas[r]!.httpPort}/ext_authz/v1/items/${client}`, {
            headers: { 'x-api-key': key },
          });
          await res.arrayBuffer();
          if (res.status === 200) perReplica[r]!++;
          out.push(res.status);
        }
        return out;
      }),
    )
  ).flat();
  return { statuses: [...warm, ...statuses], perReplica, ms: Math.round(performance.now() - start) };
}

interface Backend {
  env: Record<string, string>;
  stop(): Promise<void>;
  /** A client reading the counters directly. */
  read(): Redis | Cluster;
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

/** Only this file's accounts on the shared Redis; never a flush. */
async function dropSharedKeys(accountIds: string[]): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for (const id of accountIds) {
      const keys = await redis.keys(`{a:${id}}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

describe.each([
  [
    'redis',
    async (): Promise<Backend> => ({
      env: { REDIS_URL },
      stop: async () => {},
      read: () => new Redis(REDIS_URL),
    }),
  ],
  [
    'redis cluster',
    async (): Promise<Backend> => {
      const cluster: RedisCluster = await startRedisCluster();
      return {
        env: { REDIS_CLUSTER_NODES: cluster.env },
        stop: () => cluster.stop(),
        read: () => new Cluster(cluster.nodes),
      };
    },
  ],
])('two replicas on %s', (backend, setup) => {
  let replicas: Replica[] = [];
  /** A database per backend: spent credits and usage are flushed to Postgres. */
  let db: PreparedDatabase;
  let teardown: () => Promise<void> = async () => {};
  let reader: () => Redis | Cluster;
  const results: Record<string, unknown> = {};
  let run = 0;

  beforeAll(async () => {
    const s = await setup();
    db = await prepareDatabase({
      policyYaml: POLICY,
      accounts: ACCOUNTS.map((label) =>
        label === 'credits' ? { label, tier: label, credits: CREDITS } : { label, tier: label },
      ),
    });
    teardown = async () => {
      await s.stop();
      if (backend === 'redis') await dropSharedKeys(Object.values(db.accounts));
      await db.drop();
    };
    reader = s.read;
    replicas = await Promise.all([0, 1].map(() => startReplica({ DATABASE_URL: db.url, ...s.env })));
  }, 90_000);
  afterAll(async () => {
    console.log(`[replicas ${backend}] ${JSON.stringify(results)}`);
    await Promise.all(replicas.map((r) => r.server.stop()));
    await teardown();
  }, 30_000);

  /** Keys are per account; on the cluster run they hit fresh counters (another Redis). */
  const key = (label: string) => db.keys[label]!;

  it.each(['fw', 'tb'])('%s: exactly N of 402 allowed across both replicas', async (label) => {
    const r = await hammer(replicas, key(label));
    results[label] = {
      allowed: count(r.statuses, 200),
      denied: count(r.statuses, 429),
      perReplica: r.perReplica,
      ms: r.ms,
    };
    expect(count(r.statuses, 200)).toBe(N);
    expect(count(r.statuses, 429)).toBe(TOTAL - N);
    run++;
  });

  it('sw: within the sliding window bound (exactly N inside one aligned window)', async () => {
    const window = 3_600_000;
    const before = Math.floor(Date.now() / window);
    const r = await hammer(replicas, key('sw'));
    const straddled = Math.floor(Date.now() / window) !== before;
    const allowed = count(r.statuses, 200);
    results['sw'] = { allowed, straddled, perReplica: r.perReplica, ms: r.ms };
    // Inside one window (no previous count) the estimate is exact; across an edge the previous window
    // weighs in, and no aligned window ever holds more than N.
    if (!straddled) expect(allowed).toBe(N);
    else expect(allowed).toBeLessThanOrEqual(2 * N);
  });

  it('credits: exactly the balance spent, never below zero', async () => {
    const r = await hammer(replicas, key('credits'));
    const client = reader();
    const balance = Number(await client.get(`{a:${db.accounts['credits']}}:credits`));
    client.disconnect();
    results['credits'] = {
      allowed: count(r.statuses, 200),
      insufficient: count(r.statuses, 402),
      balance,
      ms: r.ms,
    };
    expect(count(r.statuses, 200)).toBe(CREDITS);
    expect(count(r.statuses, 402)).toBe(TOTAL - CREDITS);
    expect(balance).toBe(0);
  });

  it('quota: never exceeded', async () => {
    const r = await hammer(replicas, key('quota'));
    results['quota'] = { allowed: count(r.statuses, 200), exhausted: count(r.statuses, 402), ms: r.ms };
    expect(count(r.statuses, 200)).toBe(N);
    expect(count(r.statuses, 402)).toBe(TOTAL - N);
    expect(replicas.every((rep) => rep.server.child.exitCode === null)).toBe(true);
    expect(run).toBe(2);
  });
});
