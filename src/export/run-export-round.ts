// Export, one round: claim due outbox rows (FOR UPDATE SKIP LOCKED), deliver them, record the outcome — one transaction.
//
// The row locks are held while the rows are delivered, so another replica's exporter skips them: no
// double delivery of an in-flight row. If this process dies mid-round, Postgres drops the connection
// and the locks; the rows are due again and delivered again (at-least-once), and the sink keeps one
// event per identifier (tollgate-outbox-<id>) — exactly once where it counts.

import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { ExportMetrics } from '../observability/export-metrics.js';
import type { OutboxRow, SinkRoute } from './export-sink.js';

export interface ExportRoundOptions {
  sql: Sql;
  route: SinkRoute;
  batchSize: number;
  /** Failed deliveries after which a row stays `failed` until POST /admin/outbox/{id}/retry. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  metrics?: ExportMetrics;
  logger?: Logger;
}

export interface RoundResult {
  claimed: number;
  delivered: number;
  failed: number;
}

/** ms until the next attempt after `attempts` failures: base·2^(attempts−1), capped, with jitter (50–100 %). */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 30));
  return Math.max(1, Math.round(ceiling * (0.5 + random() * 0.5)));
}

export async function runExportRound(options: ExportRoundOptions): Promise<RoundResult> {
  const { sql, route, metrics } = options;
  return sql.transaction(async (tx) => {
    const rows = (
      await tx.query<Record<string, unknown>>(
        `select o.id, o.kind, o.account_id, o.payload, o.created_at, o.attempts, a.billing_customer_id
         from outbox o left join accounts a on a.id = o.account_id
        where o.delivered_at is null and o.attempts < $2::int and o.next_attempt_at <= now()
        order by o.next_attempt_at, o.id limit $1::int
        for update of o skip locked`,
        [options.batchSize, options.maxAttempts],
      )
    ).map(toRow);
    const result: RoundResult = { claimed: rows.length, delivered: 0, failed: 0 };
    const outcomes = await Promise.all(
      rows.map(async (row) => {
        const sink = route(row);
        try {
          await sink?.deliver(row);
          if (metrics) metrics.delivered.get(sink?.name ?? 'none', row.kind).value++;
          return { row, error: null, skipped: sink === null };
        } catch (err) {
          if (metrics) metrics.failures.get(sink!.name).value++;
          return { row, error: err instanceof Error ? err.message : String(err), skipped: false };
        }
      }),
    );
    const done = outcomes.filter((o) => o.error === null);
    if (done.length > 0) {
      await tx.query(`update outbox set delivered_at = now(), last_error = $2 where id = any($1::bigint[])`, [
        done.filter((o) => !o.skipped).map((o) => o.row.id),
        null,
      ]);
      const skipped = done.filter((o) => o.skipped).map((o) => o.row.id);
      if (skipped.length > 0)
        await tx.query(
          `update outbox set delivered_at = now(), last_error = 'skipped: no sink for this kind' where id = any($1::bigint[])`,
          [skipped],
        );
    }
    for (const { row, error } of outcomes) {
      if (error === null) continue;
      const attempts = row.attempts + 1;
      const waitMs = backoffMs(attempts, options.backoffBaseMs, options.backoffMaxMs);
      await tx.query(
        `update outbox set attempts = $2::int, last_error = $3, next_attempt_at = now() + $4::int * interval '1 millisecond' where id = $1::bigint`,
        [row.id, attempts, error.slice(0, 1000), waitMs],
      );
      options.logger?.warn(
        { outboxId: row.id, attempts, retryInMs: waitMs, error },
        attempts >= options.maxAttempts
          ? 'export failed for good; kept for inspection'
          : 'export failed; retrying with backoff',
      );
    }
    result.delivered = done.length;
    result.failed = outcomes.length - done.length;
    return result;
  });
}

function toRow(r: Record<string, unknown>): OutboxRow {
  return {
    id: Number(r.id),
    kind: r.kind as OutboxRow['kind'],
    accountId: r.account_id as string,
    billingCustomerId: (r.billing_customer_id as string | null) ?? null,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at as string),
    attempts: Number(r.attempts),
  };
}
