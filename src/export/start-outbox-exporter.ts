// Export: the loop that drains the outbox — rounds back to back while rows are due, else one poll interval.
// Runs inside `serve` (background-work.ts) or as `tollgate export`; any number of them at once.

import type { ExportConfig } from '../config.js';
import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { ExportMetrics } from '../observability/export-metrics.js';
import type { SinkRoute } from './export-sink.js';
import { runExportRound } from './run-export-round.js';

export interface OutboxExporter {
  /** Resolves when the loop ended (stop()). */
  readonly done: Promise<void>;
  /** Finishes the round under way (its deliveries are recorded), then ends. */
  stop(): Promise<void>;
}

export interface OutboxExporterOptions {
  sql: Sql;
  route: SinkRoute;
  config: ExportConfig;
  metrics?: ExportMetrics;
  logger: Logger;
}

export function startOutboxExporter(options: OutboxExporterOptions): OutboxExporter {
  let stopped = false;
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (!stopped) {
      const claimed = await drainOnce(options);
      if (claimed < options.config.batchSize && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, options.config.pollMs).unref();
        });
      }
    }
  })();
  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done;
    },
  };
}

/** One round plus the lag gauge; never throws (a failing Postgres is logged and retried next poll). Returns rows claimed. */
export async function drainOnce({
  sql,
  route,
  config,
  metrics,
  logger,
}: OutboxExporterOptions): Promise<number> {
  try {
    const { claimed } = await runExportRound({
      sql,
      route,
      batchSize: config.batchSize,
      maxAttempts: config.maxAttempts,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
      metrics,
      logger,
    });
    if (metrics) metrics.setLag(await exportLagSeconds(sql));
    return claimed;
  } catch (err) {
    logger.warn({ err }, 'export round failed; retrying at the next poll');
    return 0;
  }
}

/** Age of the oldest undelivered row (failed ones included: they are lag too), seconds. */
export async function exportLagSeconds(sql: Sql): Promise<number> {
  const [row] = await sql.query<{ lag: number | null }>(
    `select extract(epoch from now() - min(created_at))::float8 as lag from outbox where delivered_at is null`,
  );
  return Math.max(0, Number(row?.lag ?? 0));
}
