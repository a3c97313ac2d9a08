// Payments, beside the decision path: runs enforcePaymentGrace on a timer (background-work.ts starts it
// when STRIPE_WEBHOOK_SECRET is set). A periodic check rather than a lazy one because the decision path
// reads no Postgres: a suspension has to be written (and NOTIFYed) to reach the replicas' caches.

import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import { enforcePaymentGrace } from './enforce-payment-grace.js';

export const GRACE_CHECK_MS = 60_000;

export function startPaymentGraceCheck(options: {
  sql: Sql;
  graceMs: number;
  logger: Logger;
  intervalMs?: number;
  now?: () => number;
}): { stop(): Promise<void> } {
  const { sql, graceMs, logger, now = Date.now } = options;
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const result = await enforcePaymentGrace(sql, graceMs, now());
      if (result.downgraded + result.suspended > 0)
        logger.info(result, 'payment grace over: accounts changed');
    } catch (err) {
      logger.warn({ err }, 'payment grace check failed; retried next round');
    }
  };
  const timer = setInterval(() => {
    running = running.then(round);
  }, options.intervalMs ?? GRACE_CHECK_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
