// Export, operator side: outbox rows waiting (pending) or given up on (failed), and a manual retry.

import type { Sql } from '../db/sql.js';

export type OutboxState = 'pending' | 'failed';

export interface OutboxView {
  id: number;
  kind: string;
  accountId: string;
  payload: unknown;
  createdAt: Date;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
}

/**
 * pending = not delivered and still retried (attempts < maxAttempts); failed = not delivered and given
 * up on (attempts >= maxAttempts) — kept until retried. Oldest first.
 */
export async function listOutbox(
  sql: Sql,
  state: OutboxState,
  maxAttempts: number,
  limit = 100,
): Promise<OutboxView[]> {
  const rows = await sql.query<Record<string, unknown>>(
    `select id, kind, account_id, payload, created_at, attempts, last_error, next_attempt_at from outbox
      where delivered_at is null and (case when $1 = 'failed' then attempts >= $2::int else attempts < $2::int end)
      order by id limit $3::int`,
    [state, maxAttempts, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind as string,
    accountId: r.account_id as string,
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
    createdAt: new Date(r.created_at as string | Date),
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    nextAttemptAt: new Date(r.next_attempt_at as string | Date),
  }));
}

/** Makes an undelivered row due now with a fresh attempt budget (last_error kept for the record). false = unknown or delivered. */
export async function retryOutboxRow(sql: Sql, id: number): Promise<boolean> {
  const rows = await sql.query(
    `update outbox set attempts = 0, next_attempt_at = now() where id = $1::bigint and delivered_at is null returning id`,
    [id],
  );
  return rows.length > 0;
}
