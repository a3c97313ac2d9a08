// Usage flushing, source side: where counted usage waits (Redis hash or process memory) until Postgres has it.

/** One `<periodStartMs>|<endpoint>|…` group of an account's usage hash. */
export interface UsageRow {
  /** Start of the billing period the calls fell in, ms since the epoch. */
  periodStartMs: number;
  endpoint: string;
  calls: number;
  /** Quota units. */
  units: number;
  /** Credits debited. */
  credits: number;
}

/** Usage of one account moved out of the live counters, owned by exactly one batch id. */
export interface UsageBatch {
  batchId: string;
  accountId: string;
  rows: UsageRow[];
  /**
   * Usage fields whose metric this version does not know (a newer replica counted them): the batch is
   * left pending, neither written nor acked, so the newer replica's flush writes all of it.
   */
  unknown?: string[];
}

/**
 * The seam the one flusher drains: Redis (redis-usage-source.ts) and the in-process counters
 * (MemoryCounterStore) implement it with the same semantics; one contract suite runs on both.
 */
export interface UsageSource {
  /**
   * Accounts that may hold usage or a pending batch: those this process counted since the last flush,
   * and now and then every account in the store (usage of any replica, also a dead one).
   */
  accounts(): Promise<string[]>;
  /**
   * The account's pending batch if there is one (an earlier flush did not ack it: Postgres was down
   * or its replica died) — returned again with the SAME id, so the replay is a no-op in Postgres.
   * Otherwise moves the account's usage atomically into a new batch `newBatchId`. null = nothing.
   */
  take(accountId: string, newBatchId: string): Promise<UsageBatch | null>;
  /** Drops the batch after Postgres committed it; a no-op when that batch is no longer pending. */
  ack(accountId: string, batchId: string): Promise<void>;
  /** `take` for many accounts in as few round trips as the store allows; replies in the same order. */
  takeMany(requests: readonly TakeRequest[]): Promise<(UsageBatch | null)[]>;
  /** `ack` for many batches in as few round trips as the store allows. */
  ackMany(batches: readonly UsageBatch[]): Promise<void>;
}

export interface TakeRequest {
  accountId: string;
  newBatchId: string;
}

/**
 * A batch of an account's usage hash fields (see usageRows), with the fields it cannot read. The
 * fields come flat, `field, value, field, value, …` from index `from` on: a take reply read in place,
 * with no object of fields and no array of entries per account and flush.
 */
export function usageBatchOfPairs(
  batchId: string,
  accountId: string,
  pairs: readonly unknown[],
  from: number,
): UsageBatch {
  const unknown: string[] = [];
  const rows = new Map<string, UsageRow>();
  for (let i = from; i + 1 < pairs.length; i += 2) addField(rows, String(pairs[i]), pairs[i + 1], unknown);
  const kept = nonZero(rows);
  return unknown.length > 0
    ? { batchId, accountId, rows: kept, unknown }
    : { batchId, accountId, rows: kept };
}

/**
 * Usage hash fields → rows. A field is `<periodStartMs>|<endpoint>|<metric>`, the metric one of
 *   calls, units, credits   added to that metric (uncount.lua and settle.lua write these);
 *   n:<units>:<credits>     a count of calls that each took <units> units and <credits> credits
 *                           (decide.lua: one HINCRBY per decision instead of one per metric).
 * Fields without that shape (e.g. `#batch`) are skipped; those of that shape with another metric are
 * added to `unknown`.
 */
export function usageRows(fields: Record<string, string | number>, unknown: string[] = []): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const [field, value] of Object.entries(fields)) addField(rows, field, value, unknown);
  return nonZero(rows);
}

/** One usage hash field added to its row (see usageRows). */
function addField(rows: Map<string, UsageRow>, field: string, value: unknown, unknown: string[]): void {
  const first = field.indexOf('|');
  const last = field.lastIndexOf('|');
  if (first < 0 || last === first) return;
  const add = metricOf(field.slice(last + 1));
  if (!add) {
    unknown.push(field);
    return;
  }
  const group = field.slice(0, last);
  let row = rows.get(group);
  if (!row)
    rows.set(
      group,
      (row = {
        periodStartMs: Number(field.slice(0, first)),
        endpoint: field.slice(first + 1, last),
        calls: 0,
        units: 0,
        credits: 0,
      }),
    );
  const count = Number(value);
  row.calls += count * add.calls;
  row.units += count * add.units;
  row.credits += count * add.credits;
}

/** Negative rows are corrections (uncount.lua took back a decision its caller was told failed): kept. */
function nonZero(rows: Map<string, UsageRow>): UsageRow[] {
  const kept: UsageRow[] = [];
  for (const r of rows.values()) if (r.calls !== 0 || r.units !== 0 || r.credits !== 0) kept.push(r);
  return kept;
}

type Metric = Pick<UsageRow, 'calls' | 'units' | 'credits'>;
const CALLS: Metric = { calls: 1, units: 0, credits: 0 };
const UNITS: Metric = { calls: 0, units: 1, credits: 0 };
const CREDITS: Metric = { calls: 0, units: 0, credits: 1 };
const PER_CALL = /^n:(\d+):(\d+)$/;

/** What one count of a metric adds to its row; undefined for a metric this version does not know. */
function metricOf(metric: string): Metric | undefined {
  if (metric === 'calls') return CALLS;
  if (metric === 'units') return UNITS;
  if (metric === 'credits') return CREDITS;
  const perCall = PER_CALL.exec(metric);
  return perCall ? { calls: 1, units: Number(perCall[1]), credits: Number(perCall[2]) } : undefined;
}
