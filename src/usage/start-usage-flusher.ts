// Usage flushing: every interval, usage waiting in the counter store(s) is written to Postgres, exactly once.
//
// Per account: take (usage moved atomically into a batch with an id) → write (one transaction;
// a batch id Postgres has is skipped) → ack (the batch leaves the store). A crash between any two
// steps leaves the batch pending in the store, and the next flush — of any replica — retries it
// with the same id. While Postgres is down, usage simply waits in the store.
//
// Data loss in the store itself loses what was not flushed yet: at most one interval of usage (plus
// any pending batch) when Redis restarts without persistence; none with AOF (appendfsync everysec
// bounds it to ~1 s) or a replica that is promoted. The quota then continues from Postgres (quotaSeed).

import { randomUUID } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { UsageBatch, UsageSource } from './usage-source.js';
import { writeUsageBatches } from './write-usage-batches.js';

/** Batches written per transaction. */
const BATCHES_PER_TRANSACTION = 500;
/**
 * Accounts taken (or acked) per round trip. The background connection pipelines what is issued
 * together, and Redis runs a pipeline's scripts back to back while decisions wait behind them:
 * 500 take-usage.lua calls measured 2.4 ms of Redis time in one go; 50 keep each stall near 0.25 ms,
 * and the event loop gets a turn between chunks.
 */
const ACCOUNTS_PER_ROUND_TRIP = 50;
/** Rounds per flush: a pending (retried) batch first, then the usage counted meanwhile. */
const MAX_ROUNDS = 3;

export interface UsageFlusherOptions {
  /** One or more stores (e.g. Redis, plus the per-replica counters of FAILURE_MODE=local). */
  sources: UsageSource[];
  sql: Sql;
  logger: Logger;
  /** ms between flushes (USAGE_FLUSH_MS). */
  intervalMs: number;
  /** QUOTA_THRESHOLDS: fractions of the period quota that emit a `quota.threshold` outbox event once each. */
  thresholds?: readonly number[];
  /** Told the outcome of every flush (e.g. the flush-lag gauge). */
  onResult?: (result: FlushResult) => void;
}

export interface FlushResult {
  /** Batches Postgres has now (written by this flush or found already written). */
  batches: number;
  /** true when a store or Postgres failed: what could not be written stays pending for the next flush. */
  failed: boolean;
}

export interface UsageFlusher {
  /** Flushes now (after the flush under way, if any). Never throws; failures are logged. */
  flushNow(): Promise<FlushResult>;
  /** Stops the timer and flushes once more (shutdown: after the listeners closed, before the stores close). */
  stop(): Promise<FlushResult>;
}

export function startUsageFlusher({
  sources,
  sql,
  logger,
  intervalMs,
  thresholds = [],
  onResult,
}: UsageFlusherOptions): UsageFlusher {
  let running: Promise<FlushResult> = Promise.resolve({ batches: 0, failed: false });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const flushNow = () =>
    (running = running.then(async () => {
      const result = await flushAll(sources, sql, logger, thresholds);
      onResult?.(result);
      return result;
    }));
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => void flushNow().finally(schedule), intervalMs).unref();
  };
  schedule();
  return {
    flushNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      return flushNow();
    },
  };
}

async function flushAll(
  sources: UsageSource[],
  sql: Sql,
  logger: Logger,
  thresholds: readonly number[],
): Promise<FlushResult> {
  const result: FlushResult = { batches: 0, failed: false };
  for (const source of sources) {
    try {
      let accounts = await knownAccounts(sql, await source.accounts());
      for (let round = 0; round < MAX_ROUNDS && accounts.length > 0; round++)
        accounts = await flushRound(source, sql, accounts, result, thresholds);
    } catch (err) {
      result.failed = true;
      logger.warn({ err }, 'usage flush failed; the usage stays pending and is retried');
    }
  }
  return result;
}

/** Only accounts of this database: usage of unknown ids (another environment sharing the Redis) is left alone. */
async function knownAccounts(sql: Sql, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await sql.query<{ id: string }>('select id from accounts where id = any($1::text[])', [ids]);
  return rows.map((r) => r.id);
}

/** Takes, writes and acks one batch per account; returns the accounts that may have more (a retried batch was taken). */
async function flushRound(
  source: UsageSource,
  sql: Sql,
  accounts: string[],
  result: FlushResult,
  thresholds: readonly number[],
): Promise<string[]> {
  const again: string[] = [];
  for (let i = 0; i < accounts.length; i += BATCHES_PER_TRANSACTION) {
    const batches: UsageBatch[] = [];
    await inChunks(accounts.slice(i, i + BATCHES_PER_TRANSACTION), async (accountId) => {
      const newId = randomUUID();
      const batch = await source.take(accountId, newId);
      if (batch) batches.push(batch);
      if (batch && batch.batchId !== newId) again.push(accountId);
    });
    await writeUsageBatches(sql, batches, { thresholds });
    await inChunks(batches, (b) => source.ack(b.accountId, b.batchId));
    result.batches += batches.length;
  }
  return again;
}

/** `fn` over `items`, ACCOUNTS_PER_ROUND_TRIP at a time, yielding to the event loop between chunks. */
async function inChunks<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += ACCOUNTS_PER_ROUND_TRIP) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(items.slice(i, i + ACCOUNTS_PER_ROUND_TRIP).map(fn));
  }
}
