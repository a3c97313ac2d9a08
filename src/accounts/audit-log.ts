// Admin API changes → audit_log rows, written with the caller's transaction so a change and its row commit together.

import type { Sql } from '../db/sql.js';

export interface AuditEntry {
  /** Who asked: `admin`, or `admin:<name>` when the caller named themselves. */
  actor: string;
  /** `<object>.<verb>`, e.g. `account.create`, `key.rotate`. */
  action: string;
  /** The changed object's id (`acc_…`, `key_…`) or `policy`. */
  target: string;
  /** Ids, names and amounts only: never a plaintext key, a key hash or a token. */
  details: Record<string, unknown>;
}

export interface AuditRow extends AuditEntry {
  id: number;
  at: Date;
}

/** `tx` should be the transaction that makes the change. */
export async function writeAudit(tx: Sql, entry: AuditEntry): Promise<void> {
  await tx.query(
    'insert into audit_log (actor, action, target, details) values ($1, $2, $3, $4::text::jsonb)',
    [entry.actor, entry.action, entry.target, JSON.stringify(entry.details)],
  );
}

/** Newest first. */
export async function readAudit(sql: Sql, target?: string, limit = 100): Promise<AuditRow[]> {
  const rows = await sql.query<Omit<AuditRow, 'details'> & { details: unknown; [column: string]: unknown }>(
    `select id, at, actor, action, target, details from audit_log where ($1::text is null or target = $1) order by id desc limit $2::int`,
    [target ?? null, limit],
  );
  return rows.map((row) => ({
    ...row,
    details: (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as Record<
      string,
      unknown
    >,
  }));
}
