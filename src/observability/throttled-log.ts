// Logs, during an incident: a failure repeated per request is written at most once per interval, with
// how many there were, instead of one line (and stack) per request.

import type { Logger } from '../logger.js';

const INTERVAL_MS = 1_000;

export class ThrottledLog {
  private count = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly message: string,
    private readonly level: 'warn' | 'error' = 'warn',
  ) {}

  /** Counts one occurrence; writes a line (with `count` since the last one) if the interval has passed. */
  note(logger: Logger | undefined, fields: Record<string, unknown>): void {
    this.count++;
    const now = performance.now();
    if (now - this.lastAt < INTERVAL_MS || !logger) return;
    logger[this.level]({ ...fields, count: this.count }, this.message);
    this.count = 0;
    this.lastAt = now;
  }
}
