// `tollgate serve` (the default): config → app → listen → drain on SIGTERM.

import { randomBytes } from 'node:crypto';
import { resolveAdminToken } from './admin/admin-token.js';
import { createApp, type App } from './app.js';
import type { Config } from './config.js';
import { InputError } from './errors.js';
import { createLogger } from './logger.js';
import { installProcessGuards } from './process-guards.js';

/** A stuck shutdown must not keep a pod from terminating. */
const SHUTDOWN_BOUND_MS = 10_000;

export async function serve(config: Readonly<Config>): Promise<void> {
  // Replicas behind one Postgres must share one token; a generated one would differ per process.
  if (config.database.kind === 'postgres' && !config.adminToken)
    throw new InputError([
      {
        path: 'ADMIN_TOKEN',
        message: 'is required with DATABASE_URL (one token shared by every replica, at least 16 characters)',
      },
    ]);
  const logger = createLogger(config.logLevel);
  const admin = resolveAdminToken(config);
  // The embedded demo settles metered calls too: a token of this start, shown in the banner.
  const settleToken =
    config.database.kind === 'pglite' && !config.settleToken
      ? `tg_settle_${randomBytes(18).toString('base64url')}`
      : undefined;
  const app = await createApp(config, logger, {
    adminToken: admin.token,
    ...(settleToken ? { settleToken } : {}),
  });
  const ports = await app.listen();
  logger.info(
    { ...ports, host: config.host, database: config.database.kind, counters: config.counters.kind },
    'tollgate listening',
  );
  if (app.demoKeys.length > 0 || admin.source !== 'env')
    process.stdout.write(banner(app, ports, admin.source === 'env' ? undefined : admin.token, settleToken));
  const stop = onShutdown(app, logger);
  installProcessGuards(logger, (reason, exitCode) => stop(reason, exitCode));
}

function onShutdown(
  app: App,
  logger: ReturnType<typeof createLogger>,
): (signal: string, exitCode?: number) => void {
  let stopping = false;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ boundMs: SHUTDOWN_BOUND_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_BOUND_MS).unref();
    // app.close(): readiness NOT_SERVING at once, listeners closed after the drain delay, usage flushed, stores closed.
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(exitCode);
      },
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}

function banner(
  app: App,
  { httpPort, adminPort }: { httpPort: number; adminPort: number },
  adminToken: string | undefined,
  settleToken: string | undefined,
): string {
  const lines = [
    '',
    'Tollgate is running (embedded database and in-process counters unless DATABASE_URL / REDIS_URL are set).',
    '',
  ];
  if (app.demoKeys.length > 0) {
    lines.push('Demo keys (new at every start; shown once, only their SHA-256 is stored):');
    for (const { tier, key } of app.demoKeys) lines.push(`  ${tier.padEnd(11)} ${key}`);
    const free = app.demoKeys.find((k) => k.tier === 'free') ?? app.demoKeys[0]!;
    lines.push(
      '',
      'Try it:',
      `  curl -i -H "x-api-key: ${free.key}" -H "X-Original-URI: /v1/chat/completions" -H "X-Original-Method: POST" http://127.0.0.1:${httpPort}/check`,
      '',
    );
    if (settleToken)
      lines.push(
        'Chat is billed by tokens: the answer reserves 5 (x-tollgate-reservation); settle the real count:',
        `  curl -X POST -H "authorization: Bearer ${settleToken}" -H "content-type: application/json" \\`,
        `    -d '{"reservation":"<x-tollgate-reservation>","units":42}' http://127.0.0.1:${httpPort}/internal/usage/settle`,
        '',
      );
  }
  lines.push(`Console: http://127.0.0.1:${adminPort}/console (sign in with the admin token)`);
  if (adminToken) lines.push(`Admin token: ${adminToken}`, '');
  return `${lines.join('\n')}\n`;
}
