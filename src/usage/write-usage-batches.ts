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
 * the usage_batches primary key turns a replayed batch into a no-op. Throws when Postgres fails;
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
    // The per-account locks come first, so the usage sums read below include every flush before this one.
    if (thresholds.length > 0)
      await lockAccountsForThresholds(
        tx,
        sorted.map((b) => b.accountId),
      );
    const replayed = await tx.query<{ batch_id: string }>(USAGE_BOOKS_STATEMENT, [usageBooksParam(sorted)]);
    if (thresholds.length === 0) return;
    const skip = new Set(replayed.map((r) => r.batch_id));
    // Export and threshold events commit (or roll back) with the usage itself.
    await detectQuotaThresholds(tx, periodsOf(sorted, skip), thresholds);
  });
  return sorted.map((b) => b.batchId);
}

/** The (account, period) pairs the batches written now added usage to, each once. */
function periodsOf(
  batches: readonly UsageBatch[],
  skip: ReadonlySet<string>,
): Array<{ accountId: string; periodStartMs: number }> {
  const pairs = new Map<string, { accountId: string; periodStartMs: number }>();
  for (const { batchId, accountId, rows } of batches) {
    if (skip.has(batchId)) continue;
    for (const { periodStartMs } of rows)
      pairs.set(`${accountId}\n${periodStartMs}`, { accountId, periodStartMs });
  }
  return [...pairs.values()].sort((x, y) =>
    x.accountId !== y.accountId ? (x.accountId < y.accountId ? -1 : 1) : x.periodStartMs - y.periodStartMs,
  );
}
