// Composition root: the only place that picks backends and wires the decision path to the listeners.

import type { Server as HttpServer } from 'node:http';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { CheckAccess } from './access/check-access.js';
import type { CounterStore } from './counters/counter-store.js';
import { createCheckAccess } from './access/create-check-access.js';
import type { Config } from './config.js';
import { openCounterStore } from './counters/open-counter-store.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open-database.js';
import type { Sql } from './db/sql.js';
import { seedDemo, type DemoKey } from './demo/seed-demo.js';
import { CachedKeyStore } from './keys/cached-key-store.js';
import { SqlKeyStore } from './keys/sql-key-store.js';
import type { Logger } from './observability/logger.js';
import { applyPolicyFile } from './policy/apply-policy-file.js';
import { PolicyHolder } from './policy/policy-holder.js';
import { createGrpcServer, listenGrpc } from './transports/grpc/grpc-server.js';
import { createRateLimitService } from './transports/grpc/rls.js';
import { createHttpServer } from './transports/http/http-server.js';
import { closeHttpServer, listenHttp } from './transports/http/listen-http.js';

/** How often the policy is re-read from Postgres even without a change notification. */
const POLICY_REFRESH_MS = 30_000;

export interface App {
  checkAccess: CheckAccess;
  sql: Sql;
  policy: PolicyHolder;
  /** Keys minted for the demo accounts at this start (embedded mode only). */
  demoKeys: DemoKey[];
  listen(): Promise<{ httpPort: number; grpcPort: number }>;
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger): Promise<App> {
  const { sql, release } = await openDatabase(config.database);
  const cleanup: Array<() => Promise<void> | void> = [() => sql.close(), release];
  try {
    await migrate(sql);
    if (config.policyFile) await applyPolicyFile(sql, config.policyFile);
    const demoKeys = config.database.kind === 'pglite' ? await seedDemo(sql) : [];
    const path = await createDecisionPath(config, sql, logger);
    cleanup.unshift(path.close);
    const { checkAccess, policy, counters } = path;
    const rateLimit = createRateLimitService({ counters, policy: () => policy.current, logger });
    const grpcServer = createGrpcServer({ checkAccess, rateLimit, logger });
    const httpServer = createHttpServer({ checkAccess, logger });
    return {
      checkAccess,
      sql,
      policy,
      demoKeys,
      listen: () => listenAll(config, httpServer, grpcServer),
      close: async () => {
        await Promise.all([closeHttpServer(httpServer), new Promise<void>((done) => grpcServer.tryShutdown(() => done()))]);
        await runAll(cleanup);
      },
    };
  } catch (err) {
    await runAll(cleanup);
    throw err;
  }
}

export interface DecisionPath {
  checkAccess: CheckAccess;
  policy: PolicyHolder;
  counters: CounterStore;
  close(): Promise<void>;
}

/** Policy, key cache and counter store behind one CheckAccess; also used by `tollgate check`. */
export async function createDecisionPath(config: Config, sql: Sql, logger: Logger): Promise<DecisionPath> {
  const policy = await PolicyHolder.load(sql, logger, POLICY_REFRESH_MS);
  if (policy.tierCount === 0) logger.warn('no policy stored yet: apply one with `tollgate apply <policy.yaml>` or POLICY_FILE');
  const counters = await openCounterStore(config).catch((err) => {
    policy.close();
    throw err;
  });
  const keys = new CachedKeyStore({ inner: new SqlKeyStore(sql) });
  return {
    checkAccess: createCheckAccess({ keys, policy: () => policy.current, counters }),
    policy,
    counters,
    close: async () => {
      policy.close();
      await counters.close();
    },
  };
}

async function listenAll(config: Config, http: HttpServer, grpc: GrpcServer) {
  const [httpPort, grpcPort] = await Promise.all([listenHttp(http, config.host, config.httpPort), listenGrpc(grpc, config.host, config.grpcPort)]);
  return { httpPort, grpcPort };
}

async function runAll(steps: Array<() => Promise<void> | void>): Promise<void> {
  for (const step of steps) await step();
}
