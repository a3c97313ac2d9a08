// `tollgate export [--once]`: the outbox exporter as its own process — until SIGTERM/SIGINT, or one pass with --once.

import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
import { migrate } from '../db/migrate.js';
import { InputError } from '../errors.js';
import { openExportRoute } from '../export/open-export-route.js';
import { drainOnce, startOutboxExporter } from '../export/start-outbox-exporter.js';
import { createLogger } from '../observability/logger.js';
import { parseFlags } from './flags.js';
import { print } from './output.js';

export async function exportCommand(sql: Sql, args: string[], config: Readonly<Config>): Promise<void> {
  const { values } = parseFlags(args, { once: { type: 'boolean' } });
  const route = openExportRoute(config.export, config.signup.secret);
  if (!route)
    throw new InputError([
      {
        path: 'STRIPE_API_KEY',
        message: 'no export sink: set STRIPE_API_KEY and/or EXPORT_WEBHOOK_URL + EXPORT_WEBHOOK_SECRET',
      },
    ]);
  await migrate(sql);
  const logger = createLogger(config.logLevel);
  const options = { sql, route, config: config.export, logger };
  if (values.once) {
    let total = 0;
    for (let claimed = -1; claimed !== 0; total += Math.max(0, claimed)) claimed = await drainOnce(options);
    print(args, { claimed: total }, `export: ${total} outbox rows attempted`);
    return;
  }
  const exporter = startOutboxExporter(options);
  logger.info(
    { sinks: [config.export.stripe && 'stripe', config.export.webhook && 'webhook'].filter(Boolean) },
    'exporter running',
  );
  const stop = () => void exporter.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await exporter.done;
  logger.info('exporter stopped');
}
