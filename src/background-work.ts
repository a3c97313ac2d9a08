// Work beside the decision path: the usage flusher (Redis → Postgres, exactly once), the change listener
// (LISTEN/NOTIFY → caches), the degraded gauge, the outbox exporter (when a sink is configured) and the
// payment grace check (with STRIPE_WEBHOOK_SECRET). Started by the composition root, stopped at drain.

import { startChangeListener } from './changes/start-change-listener.js';
import type { Config } from './config.js';
import { openUsageStore } from './counters/open-usage-store.js';
import type { Sql } from './db/sql.js';
import type { DecisionPath } from './decision-path.js';
import type { Logger } from './logger.js';
import type { Metrics } from './observability/metrics.js';
import type { ReplicaStatus } from './transports/admin/admin-route.js';
import { startUsageFlusher } from './usage/start-usage-flusher.js';
import { openExportRoute } from './export/open-export-route.js';
import { startOutboxExporter } from './export/start-outbox-exporter.js';
import { startPaymentGraceCheck } from './payments/start-payment-grace-check.js';

export interface BackgroundWork {
  /** Shutdown, after the listeners closed (no decision adds usage any more): the last flush. */
  flushUsage(): Promise<void>;
  close(): Promise<void>;
  /** This replica's degraded state and flush lag (GET /admin/replica). */
  status(): ReplicaStatus;
}

export async function startBackgroundWork(deps: {
  config: Config;
  sql: Sql;
  path: DecisionPath;
  metrics: Metrics;
  logger: Logger;
}): Promise<BackgroundWork> {
  const { config, sql, path, metrics, logger } = deps;
  const usage = await openUsageStore(config, path.memory, path.counted);
  const listener = await startChangeListener({
    sql,
    keys: path.keys,
    keyFilter: path.keyFilter,
    policy: path.policy,
    credits: usage.credits,
    logger,
  }).catch(async (err) => {
    await usage.close();
    throw err;
  });
  let lastFlushOk = Date.now();
  const flusher = startUsageFlusher({
    // FAILURE_MODE=local: what the insurance counters allowed is usage too (billed, debited, once).
    sources: path.degraded.insurance ? [usage.source, path.degraded.insurance] : [usage.source],
    sql,
    logger,
    intervalMs: config.usageFlushMs,
    thresholds: config.quotaThresholds,
    onResult: ({ failed }) => {
      // Denials ride the usage flush's timer; a failed write keeps them for the next one.
      void path.denials.flush(sql).catch((err) => logger.warn({ err }, 'denial counts not flushed; kept'));
      if (!failed) lastFlushOk = Date.now();
      metrics.setUsageFlushLag((Date.now() - lastFlushOk) / 1000);
    },
  });
  const route = config.export.inServe ? openExportRoute(config.export, config.signup.secret) : undefined;
  const exporter =
    route && startOutboxExporter({ sql, route, config: config.export, metrics: metrics.exports, logger });
  const graceCheck =
    config.stripeWebhook && startPaymentGraceCheck({ sql, graceMs: config.stripeWebhook.graceMs, logger });
  metrics.setDegraded(path.degraded.degraded);
  let degradedSince = 0;
  const unsubscribe = path.degraded.onChange((degraded, cause) => {
    metrics.setDegraded(degraded);
    // One line entering (with the cause) and one leaving (with how long): the incident, readable.
    if (degraded) {
      degradedSince = Date.now();
      logger.error({ failureMode: config.failureMode, cause }, 'degraded: Redis unavailable');
    } else logger.warn({ degradedMs: Date.now() - degradedSince }, 'recovered: Redis answers again');
  });
  let flushed = false;
  const startedAt = new Date().toISOString();
  return {
    status: () => ({
      degraded: path.degraded.degraded,
      last_flush_ok_at: new Date(lastFlushOk).toISOString(),
      flush_lag_seconds: (Date.now() - lastFlushOk) / 1000,
      started_at: startedAt,
    }),
    async flushUsage() {
      flushed = true;
      await flusher.stop();
      await path.denials.flush(sql).catch((err) => logger.warn({ err }, 'denial counts lost at shutdown'));
    },
    async close() {
      unsubscribe();
      if (!flushed) await flusher.stop();
      await exporter?.stop();
      await graceCheck?.stop();
      await listener.stop();
      await usage.close();
    },
  };
}
