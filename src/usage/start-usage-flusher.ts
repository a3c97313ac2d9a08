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

import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { UsageBatch, UsageSource } from './usage-source.js';
import { writeUsageBatches } from './write-usage-batches.js';

/**
 * Batches written per transaction, and taken from a store in one go: in Redis, take and ack script
 * calls sized to the flush (redis-usage-source.ts; a source lists its accounts grouped by Cluster
 * node, so a slice is one node's). Each step of a flush (a take reply read, a statement's arrays
 * built and sent, its reply read) runs without yielding, so this bounds how long decisions wait
 * behind one: at 500, a flush of 1,000 accounts a second held the /check p99 at 2,000/s about 1 ms
 * higher (6.3 vs 5.4 ms) with 8-15 ms spikes. 100 costs 5x the transactions, each a fifth as
 * large: a flush of 100,000 accounts took 8.9-11.1 s in three bench runs, against 6.7-7.5 s in two
 * at 500.
 */
const BATCHES_PER_TRANSACTION = 100;
/** Account ids Postgres confirmed remembered; past this the memory is dropped and they are asked again. */
const KNOWN_ACCOUNTS_MAX = 1_000_000;
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
  /**
   * true when a store or Postgres failed, or a batch held usage this version cannot read: what could
   * not be written stays pending for the next flush.
   */
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
  const known = new Set<string>();
  const flushNow = () =>
    (running = running.then(async () => {
      const result = await flushAll(sources, sql, logger, thresholds, known);
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
  known: Set<string>,
): Promise<FlushResult> {
  const result: FlushResult = { batches: 0, failed: false };
  for (const source of sources) {
    try {
      let accounts = await knownAccounts(sql, await source.accounts(), known);
      for (let round = 0; round < MAX_ROUNDS && accounts.length > 0; round++)
        accounts = await flushRound(source, sql, logger, accounts, result, thresholds);
    } catch (err) {
      result.failed = true;
      logger.warn({ err }, 'usage flush failed; the usage stays pending and is retried');
    }
  }
  return result;
}

/**
 * Only accounts of this database: usage of unknown ids (another environment sharing the Redis) is left
 * alone. Accounts are never deleted, so an id found once is remembered and not asked again.
 */
async function knownAccounts(sql: Sql, ids: string[], known: Set<string>): Promise<string[]> {
  const ask = ids.filter((id) => !known.has(id));
  if (ask.length > 0) {
    const rows = await sql.query<{ id: string }>('select id from accounts where id = any($1::text[])', [ask]);
    if (known.size + rows.length > KNOWN_ACCOUNTS_MAX) known.clear();
    for (const { id } of rows) known.add(id);
  }
  return ids.filter((id) => known.has(id));
}

/** Takes, writes and acks one batch per account; returns the accounts that may have more (a retried batch was taken). */
async function flushRound(
  source: UsageSource,
  sql: Sql,
  logger: Logger,
  accounts: string[],
  result: FlushResult,
  thresholds: readonly number[],
): Promise<string[]> {
  const again: string[] = [];
  for (let i = 0; i < accounts.length; i += BATCHES_PER_TRANSACTION) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    // One random id per slice (128 bits, base64url), numbered per account: as unique as a UUID per
    // account, 14 characters shorter in usage_batches and in each export row, one random draw per slice.
    const slice = randomBytes(16).toString('base64url');
    const requests = accounts
      .slice(i, i + BATCHES_PER_TRANSACTION)
      .map((accountId, j) => ({ accountId, newBatchId: `${slice}.${j}` }));
    const batches: UsageBatch[] = [];
    const held: UsageBatch[] = [];
    (await source.takeMany(requests)).forEach((batch, j) => {
      if (!batch) return;
      if (batch.unknown) return void held.push(batch);
      batches.push(batch);
      if (batch.batchId !== requests[j]!.newBatchId) again.push(batch.accountId);
    });
    await writeUsageBatches(sql, batches, { thresholds });
    await source.ackMany(batches);
    result.batches += batches.length;
    if (held.length > 0) {
      // Counted by a newer Tollgate (a rolling upgrade): writing only the fields this version knows
      // and acking would lose the rest, so the batch stays pending for a newer replica's flush.
      result.failed = true;
      logger.warn(
        { accounts: held.length, fields: held[0]!.unknown!.slice(0, 3) },
        'usage batches hold fields this version does not know; left pending for a newer replica',
      );
    }
  }
  return again;
}
