// Composition root: the only place that picks backends and wires the decision path to the listeners.

import type { Server as HttpServer } from 'node:http';
import type { CheckAccess } from './access/check-access.js';
import type { Config } from './config.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import type { Sql } from './db/sql.js';
import { createDecisionPath } from './decision-path.js';
import { BindError } from './errors.js';
import { startBackgroundWork } from './background-work.js';
import { seedDemo, type DemoKey } from './demo/seed-demo.js';
import { Readiness, type DependencyCheck } from './health/readiness.js';
import { createRedisPing } from './health/redis-ping.js';
import type { Logger } from './logger.js';
import { Metrics } from './observability/metrics.js';
import { applyPolicyFile } from './policy/apply-policy-file.js';
import type { PolicyHolder } from './policy/policy-holder.js';
import { createGrpcListener, type GrpcListener } from './transports/grpc/grpc-listener.js';
import { createExtProc } from './transports/grpc/ext-proc.js';
import { createHealthService } from './transports/grpc/health.js';
import { composeRls } from './compose-rls.js';
import { createHttpServer } from './transports/http/http-server.js';
import { closeHttpServer, listenHttp, refuseKeepAlive } from './transports/http/listen-http.js';
import { metricsRoute } from './transports/http/metrics-route.js';
import { resolveAdminToken } from './admin/admin-token.js';
import { openCounterInspector } from './counters/open-counter-inspector.js';
import { createAdminServer } from './transports/admin/admin-server.js';
import { createSelfServiceRoutes } from './transports/self-service/self-service-routes.js';
import { createSignupRoute } from './transports/self-service/signup-route.js';
import { createSignupConfirmRoute } from './transports/self-service/signup-confirm-route.js';
import { createClientAddress } from './transports/http/client-address.js';
import { createSettleRoute, SETTLE_PATH } from './transports/http/settle-route.js';
import { createStripeWebhookRoute } from './transports/http/stripe-webhook-route.js';

/** ms between readiness flipping to NOT_SERVING and the listeners closing, so load balancers and kubelet see it. */
export const DEFAULT_DRAIN_DELAY_MS = 2_000;
/** ms in-flight calls get to finish once the listeners close; then they are cut. */
const LISTENER_CLOSE_MS = 5_000;
/** A readiness check (Postgres `select 1`, Redis PING) slower than this counts as failed. */
const PROBE_TIMEOUT_MS = 1_000;

export interface AppOptions {
  /** Default DEFAULT_DRAIN_DELAY_MS; tests pass 0. */
  drainDelayMs?: number;
  /** How often readiness re-checks Redis (ms); default 2000. */
  readinessIntervalMs?: number;
  /** The admin bearer token as resolved (and shown) by the caller; default resolveAdminToken(config). */
  adminToken?: string;
  /** The settle route's bearer when SETTLE_TOKEN is unset (the embedded demo's, shown by the caller). */
  settleToken?: string;
}

export interface App {
  checkAccess: CheckAccess;
  sql: Sql;
  policy: PolicyHolder;
  metrics: Metrics;
  readiness: Readiness;
  /** Keys minted for the demo accounts at this start (embedded mode only). */
  demoKeys: DemoKey[];
  listen(): Promise<{ httpPort: number; grpcPort: number; adminPort: number }>;
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
    const metrics = new Metrics({ commit: config.buildCommit });
    const path = await createDecisionPath(config, sql, logger, metrics);
    cleanup.unshift(path.close);
    const { checkAccess, policy, counters } = path;
    const background = await startBackgroundWork({ config, sql, path, metrics, logger });
    cleanup.unshift(background.close);
    // A drop-in for envoyproxy/ratelimit may have no tiers at all: its loaded config directory counts.
    let rlsRulesLoaded = () => false;
    const readiness = createReadiness(config, policy, options, logger, () => rlsRulesLoaded());
    cleanup.unshift(readiness.close);
    const rls = await composeRls({
      config,
      counters,
      checkAccess,
      policy,
      metrics,
      logger,
      ready: () => readiness.ready,
    });
    cleanup.unshift(rls.close);
    rlsRulesLoaded = rls.rulesLoaded;
    const health = createHealthService(readiness);
    const inspector = await openCounterInspector(config, path.memory);
    cleanup.unshift(() => inspector.close());
    const extProc = createExtProc({
      settler: path.reservations,
      logger,
      record: (usage, result) => metrics.extProcStreams.get(usage, result).value++,
    });
    const grpcServer = createGrpcListener(config.grpcServer, {
      checkAccess,
      shouldRateLimit: rls.shouldRateLimit,
      logger,
      health: health.service,
      extProc,
    });
    const selfService = createSelfServiceRoutes({
      keys: path.keys,
      counters,
      sql,
      policy: () => policy.current,
      inspector,
    });
    const { signup } = config;
    const signupOptions = {
      sql,
      counters,
      policy: () => policy.current,
      tier: signup.tier,
      perIpPerHour: signup.perIpPerHour,
      globalPerMinute: signup.globalPerMinute,
      clientAddress: createClientAddress(config.trustedProxies),
      secret: signup.secret,
      confirm: signup.confirm,
      tokenTtlMs: signup.tokenTtlMs,
    };
    const signupRoutes: Record<string, ReturnType<typeof createSignupRoute>> = signup.enabled
      ? {
          '/v1/signup': createSignupRoute(signupOptions),
          ...(signup.confirm ? { '/v1/signup/confirm': createSignupConfirmRoute(signupOptions) } : {}),
        }
      : {};
    const countBillingEvent = (type: string, result: string) =>
      metrics.billingEvents.get(type, result).value++;
    const stripeRoutes: Record<string, ReturnType<typeof createStripeWebhookRoute>> = config.stripeWebhook
      ? {
          '/v1/billing/stripe': createStripeWebhookRoute({
            sql,
            secret: config.stripeWebhook.secret,
            graceMs: config.stripeWebhook.graceMs,
            logger,
            onResult: countBillingEvent,
          }),
        }
      : {};
    const settleToken = config.settleToken ?? options.settleToken;
    const httpServer = createHttpServer({
      checkAccess,
      logger,
      ready: () => readiness.ready,
      readyReasons: () => readiness.reasons,
      routes: {
        '/metrics': metricsRoute(metrics.registry),
        ...selfService,
        ...signupRoutes,
        ...stripeRoutes,
        ...rls.routes,
        ...(settleToken
          ? { [SETTLE_PATH]: createSettleRoute({ settler: path.reservations, token: settleToken, logger }) }
          : {}),
      },
    });
    const adminToken = options.adminToken ?? resolveAdminToken(config).token;
    const adminServer = createAdminServer({
      sql,
      adminToken,
      inspector,
      reservations: path.reservations,
      reloadPolicy: () => policy.reload(),
      exportMaxAttempts: config.export.maxAttempts,
      ...(config.stripeWebhook ? { paymentGraceMs: config.stripeWebhook.graceMs, countBillingEvent } : {}),
      replicaStatus: () => background.status(),
      logger,
    });
    const servers = { http: httpServer, grpc: grpcServer, admin: adminServer };
    let closing: Promise<void> | undefined;
    const drainAndClose = async () => {
      readiness.drain();
      refuseKeepAlive(httpServer);
      refuseKeepAlive(adminServer);
      logger.info(
        { drainDelayMs: options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS },
        'draining: readiness is NOT_SERVING',
      );
      await delay(options.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS);
      health.endWatches();
      await Promise.all([
        closeHttpServer(httpServer, LISTENER_CLOSE_MS),
        closeHttpServer(adminServer, LISTENER_CLOSE_MS),
        grpcServer.close(LISTENER_CLOSE_MS),
      ]);
      await background.flushUsage();
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
        const ports = await listenAll(config, servers);
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
 * Ready = a policy (or envoyproxy/ratelimit's config directory) is loaded, not draining, and — only with FAILURE_MODE=closed, where every call
 * would fail — Redis answers. Postgres is not a readiness dependency: cached keys keep being served
 * while it is down, and in a sidecar pod an unready Tollgate takes the whole app pod out
 * of its Service.
 */
function createReadiness(
  config: Config,
  policy: PolicyHolder,
  options: AppOptions,
  logger: Logger,
  rlsRulesLoaded: () => boolean,
): Readiness & { close(): Promise<void> } {
  const redisPing =
    config.failureMode === 'closed' ? createRedisPing(config.counters, PROBE_TIMEOUT_MS) : undefined;
  const checks: DependencyCheck[] = redisPing ? [{ name: 'redis', run: () => redisPing.ping() }] : [];
  const readiness = new Readiness({
    checks,
    policyLoaded: () => policy.tierCount > 0 || rlsRulesLoaded(),
    intervalMs: options.readinessIntervalMs,
    timeoutMs: PROBE_TIMEOUT_MS,
    logger,
  });
  return Object.assign(readiness, {
    close: async () => {
      readiness.stop();
      await redisPing?.close();
    },
  });
}

async function listenAll(
  config: Config,
  servers: { http: HttpServer; grpc: GrpcListener; admin: HttpServer },
) {
  const { host } = config;
  const named = (variable: BindError['variable'], port: number, bound: Promise<number>) =>
    bound.catch((err: unknown) => Promise.reject(new BindError(variable, host, port, err)));
  const [httpPort, grpcPort, adminPort] = await Promise.all([
    named('HTTP_PORT', config.httpPort, listenHttp(servers.http, host, config.httpPort)),
    named('GRPC_PORT', config.grpcPort, servers.grpc.listen(host, config.grpcPort)),
    named('ADMIN_PORT', config.adminPort, listenHttp(servers.admin, host, config.adminPort)),
  ]);
  return { httpPort, grpcPort, adminPort };
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

async function runAll(steps: Array<() => Promise<void> | void>): Promise<void> {
  for (const step of steps) await step();
}
