// Composition root: the only place that picks backends and wires the decision path to the listeners.

import type { Server as HttpServer } from 'node:http';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { CheckAccess } from './access/check-access.js';
import { createCheckAccess } from './access/create-check-access.js';
import type { Config } from './config.js';
import type { CounterStore } from './counters/counter-store.js';
import { openCounterStore } from './counters/open-counter-store.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import type { Sql } from './db/sql.js';
import { seedDemo, type DemoKey } from './demo/seed-demo.js';
import { Readiness, type DependencyCheck } from './health/readiness.js';
import { createRedisPing } from './health/redis-ping.js';
import { CachedKeyStore } from './keys/cached-key-store.js';
import { SqlKeyStore } from './keys/sql-key-store.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { observeCheckAccess } from './observability/observe-check-access.js';
import { observeCounterStore } from './observability/observe-counter-store.js';
import { observeKeyStore } from './observability/observe-key-store.js';
import { applyPolicyFile } from './policy/apply-policy-file.js';
import { PolicyHolder } from './policy/policy-holder.js';
import { closeGrpcServer, createGrpcServer, listenGrpc } from './transports/grpc/grpc-server.js';
import { createHealthService } from './transports/grpc/health.js';
import { createRateLimitService } from './transports/grpc/rls.js';
import { createHttpServer } from './transports/http/http-server.js';
import { closeHttpServer, listenHttp, refuseKeepAlive } from './transports/http/listen-http.js';
import { metricsRoute } from './transports/http/metrics-route.js';

/** How often the policy is re-read from Postgres even without a change notification. */
const POLICY_REFRESH_MS = 30_000;
/** ms between readiness flipping to NOT_SERVING and the listeners closing, so load balancers and kubelet see it. */
export const DEFAULT_DRAIN_DELAY_MS = 2_000;
/** ms in-flight calls get to finish once the listeners close; then they are cut. */
const LISTENER_CLOSE_MS = 5_000;
/** A readiness check (Postgres `select 1`, Redis PING) slower than this counts as failed. */
const PROBE_TIMEOUT_MS = 1_000;

export interface AppOptions {
  /** Default DEFAULT_DRAIN_DELAY_MS; tests pass 0. */
  drainDelayMs?: number;
  /** How often readiness re-checks Postgres and Redis (ms); default 2000. */
  readinessIntervalMs?: number;
}

export interface App {
  checkAccess: CheckAccess;
  sql: Sql;
  policy: PolicyHolder;
  metrics: Metrics;
  readiness: Readiness;
  /** Keys minted for the demo accounts at this start (embedded mode only). */
  demoKeys: DemoKey[];
  listen(): Promise<{ httpPort: number; grpcPort: number }>;
  /** Not ready at once, then after the drain delay: listeners stop, in-flight calls finish, usage flushed, stores closed. */
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const { sql, release } = await openDatabase(config.database);
  const cleanup: Array<() => Promise<void> | void> = [() => sql.close(), release];
  try {
    await migrate(sql);
    if (config.policyFile) await applyPolicyFile(sql, config.policyFile);
    const demoKeys = config.database.kind === 'pglite' ? await seedDemo(sql) : [];
    const metrics = new Metrics();
    const path = await createDecisionPath(config, sql, logger, metrics);
    cleanup.unshift(path.close);
    const { checkAccess, policy, counters } = path;
    const rateLimit = createRateLimitService({ counters, policy: () => policy.current, logger });
    const readiness = createReadiness(config, policy, options, logger);
    cleanup.unshift(readiness.close);
    const health = createHealthService(readiness);
    const grpcServer = createGrpcServer({ checkAccess, rateLimit, logger, health: health.service });
    const httpServer = createHttpServer({ checkAccess, logger, ready: () => readiness.ready, routes: { '/metrics': metricsRoute(metrics.registry) } });
    let closing: Promise<void> | undefined;
    const drainAndClose = async () => {
      readiness.drain();
      refuseKeepAlive(httpServer);
      logger.info({ drainDelayMs: options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS }, 'draining: readiness is NOT_SERVING');
      await delay(options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS);
      health.endWatches();
      await Promise.all([closeHttpServer(httpServer, LISTENER_CLOSE_MS), closeGrpcServer(grpcServer, LISTENER_CLOSE_MS)]);
      await flushUsage();
      await runAll(cleanup);
    };
    return {
      checkAccess,
      sql,
      policy,
      metrics,
      readiness,
      demoKeys,
      listen: async () => {
        const ports = await listenAll(config, httpServer, grpcServer);
        await readiness.start();
        return ports;
      },
      close: () => (closing ??= drainAndClose()),
    };
  } catch (err) {
    await runAll(cleanup);
    throw err;
  }
}

/**
 * Hook for the usage-flusher issue: write the usage counted since the last flush to Postgres.
 * Runs once at shutdown after the listeners stopped (no decision can add usage) and before the
 * stores close. A no-op until the flusher exists.
 */
async function flushUsage(): Promise<void> {}

export interface DecisionPath {
  checkAccess: CheckAccess;
  policy: PolicyHolder;
  /** The counter store behind checkAccess (timed when observed), also used by Envoy's rate-limit service. */
  counters: CounterStore;
  close(): Promise<void>;
}

/**
 * Policy, key cache and counter store behind one CheckAccess; also used by `tollgate check`.
 * With `metrics`, the core and its stores are wrapped once in the recording decorators.
 */
export async function createDecisionPath(config: Config, sql: Sql, logger: Logger, metrics?: Metrics): Promise<DecisionPath> {
  const policy = await PolicyHolder.load(sql, logger, POLICY_REFRESH_MS, metrics && ((p) => metrics.setPolicy(p)));
  if (policy.tierCount === 0) logger.warn('no policy stored yet: apply one with `tollgate apply <policy.yaml>` or POLICY_FILE');
  const opened = await openCounterStore(config).catch((err) => {
    policy.close();
    throw err;
  });
  const sqlKeys = new SqlKeyStore(sql);
  if (!metrics) {
    const keys = new CachedKeyStore({ inner: sqlKeys });
    return { checkAccess: createCheckAccess({ keys, policy: () => policy.current, counters: opened }), policy, counters: opened, close: () => closeDecisionPath(policy, opened) };
  }
  const counters = observeCounterStore(opened, config.counters.kind === 'memory' ? 'memory' : 'redis', metrics);
  const keys = new CachedKeyStore({ inner: observeKeyStore(sqlKeys, metrics), onLookup: (result) => metrics.keyCache.get(result).value++ });
  const inner = createCheckAccess({ keys, policy: () => policy.current, counters });
  return { checkAccess: observeCheckAccess({ inner, metrics, logger }), policy, counters, close: () => closeDecisionPath(policy, opened) };
}

async function closeDecisionPath(policy: PolicyHolder, counters: { close(): Promise<void> }): Promise<void> {
  policy.close();
  await counters.close();
}

/**
 * Ready = a policy is loaded, not draining, and — only with FAILURE_MODE=closed, where every call
 * would fail — Redis answers. Postgres is not a readiness dependency: cached keys keep being served
 * while it is down (DESIGN §5), and in a sidecar pod an unready Tollgate takes the whole app pod out
 * of its Service.
 */
function createReadiness(config: Config, policy: PolicyHolder, options: AppOptions, logger: Logger): Readiness & { close(): Promise<void> } {
  const redisPing = config.failureMode === 'closed' ? createRedisPing(config.counters, PROBE_TIMEOUT_MS) : undefined;
  const checks: DependencyCheck[] = redisPing ? [{ name: 'redis', run: () => redisPing.ping() }] : [];
  const readiness = new Readiness({ checks, policyLoaded: () => policy.tierCount > 0, intervalMs: options.readinessIntervalMs, timeoutMs: PROBE_TIMEOUT_MS, logger });
  return Object.assign(readiness, {
    close: async () => {
      readiness.stop();
      await redisPing?.close();
    },
  });
}

async function listenAll(config: Config, http: HttpServer, grpc: GrpcServer) {
  const [httpPort, grpcPort] = await Promise.all([listenHttp(http, config.host, config.httpPort), listenGrpc(grpc, config.host, config.grpcPort)]);
  return { httpPort, grpcPort };
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

async function runAll(steps: Array<() => Promise<void> | void>): Promise<void> {
  for (const step of steps) await step();
}
