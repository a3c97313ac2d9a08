// `tollgate export [--once]`: the outbox exporter as its own process — until SIGTERM/SIGINT, or one pass with --once.

import { migrate } from '../db/migrate.js';
import { InputError } from '../errors.js';
import { openExportRoute } from '../export/open-export-route.js';
import { drainOnce, startOutboxExporter } from '../export/start-outbox-exporter.js';
import { createLogger } from '../logger.js';
import { print, type CommandContext } from './output.js';

export async function exportCommand(ctx: CommandContext): Promise<void> {
  const { sql, values, config } = ctx;
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
    print(ctx, { claimed: total }, `export: ${total} outbox rows attempted`);
    return;
  }
  const exporter = startOutboxExporter(options);
  const stop = () => void exporter.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Logged once the signals are handled: from here on a SIGTERM stops the exporter cleanly.
  logger.info(
    { sinks: [config.export.stripe && 'stripe', config.export.webhook && 'webhook'].filter(Boolean) },
    'exporter running',
  );
  await exporter.done;
  logger.info('exporter stopped');
}
