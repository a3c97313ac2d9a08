// Usage flushing, Postgres side: batches → the books (usage, ledger, export) in ONE transaction, each batch at most once.

import type { Sql } from '../db/sql.js';
import { detectQuotaThresholds, lockAccountsForThresholds } from './detect-quota-thresholds.js';
import { USAGE_BOOKS_STATEMENT, usageBooksParam } from './usage-books-statement.js';
import type { UsageBatch } from './usage-source.js';

export interface WriteUsageOptions {
  /** Fractions of the period quota that emit one `quota.threshold` event each (QUOTA_THRESHOLDS); [] = none. */
  thresholds?: readonly number[];
}

/**
 * Writes the batches Postgres does not have yet and returns all their ids (written now or before):
 * the usage_batches primary key turns a replayed batch into a no-op (USAGE_BOOKS_STATEMENT). Throws when Postgres fails;
 * then nothing is written and the caller keeps the batches pending.
 */
export async function writeUsageBatches(
  sql: Sql,
  batches: UsageBatch[],
  options: WriteUsageOptions = {},
): Promise<string[]> {
  if (batches.length === 0) return [];
  // Same order in every replica, so two flushes of overlapping batches cannot deadlock.
  const sorted = [...batches].sort((a, b) => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0));
  const thresholds = options.thresholds ?? [];
  await sql.transaction(async (tx) => {
    // The statements go out together, one write and one wait, and Postgres runs them in this order:
    // the per-account locks are held before the books statement starts, so the usage sums detection
    // reads (after it, in the same transaction) include every flush before this one. Detection also
    // sees the accounts of replayed batches; the quota_events key keeps each crossing single.
    await Promise.all([
      thresholds.length > 0 &&
        lockAccountsForThresholds(
          tx,
          sorted.map((b) => b.accountId),
        ),
      tx.query(USAGE_BOOKS_STATEMENT, [usageBooksParam(sorted)]),
      // Export and threshold events commit (or roll back) with the usage itself.
      thresholds.length > 0 && detectQuotaThresholds(tx, periodsOf(sorted), thresholds),
    ]);
  });
  return sorted.map((b) => b.batchId);
}

/** The (account, period) pairs the batches add usage to, each once, in lock order. */
function periodsOf(batches: readonly UsageBatch[]): Array<{ accountId: string; periodStartMs: number }> {
  const pairs = new Map<string, { accountId: string; periodStartMs: number }>();
  for (const { accountId, rows } of batches)
    for (const { periodStartMs } of rows)
      pairs.set(`${accountId}\n${periodStartMs}`, { accountId, periodStartMs });
  return [...pairs.values()].sort((x, y) =>
    x.accountId !== y.accountId ? (x.accountId < y.accountId ? -1 : 1) : x.periodStartMs - y.periodStartMs,
  );
}
