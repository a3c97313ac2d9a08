// Change notifications: every write the decision path caches announces itself with pg_notify in its own transaction.

import type { Sql } from './sql.js';

/** The one channel every replica LISTENs on. */
export const CHANGES_CHANNEL = 'tollgate';

export type Change =
  /** A key was created (drops a cached "unknown"), revoked or rotated. `hash`: hex SHA-256, never the key. */
  | { kind: 'key'; hash: string }
  /** An account's tier, status or billing anchor changed: every cached key of it is stale. */
  | { kind: 'account'; id: string }
  /** The policy was replaced. */
  | { kind: 'policy' }
  /** A ledger row other than usage (top-up, correction): applied once to the live balance. */
  | { kind: 'credits'; account: string; ledgerId: string; delta: number };

/**
 * Call it inside the transaction of the change: Postgres delivers the notification at commit, and
 * never for a rolled back change.
 */
export async function notifyChange(sql: Sql, change: Change): Promise<void> {
  await sql.query('select pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(change)]);
}

/** The payload as a Change, or null when it is not one (another writer on the channel, a newer version). */
export function parseChange(payload: string): Change | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const c = value as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object') return null;
  if (c.kind === 'key' && typeof c.hash === 'string') return { kind: 'key', hash: c.hash };
  if (c.kind === 'account' && typeof c.id === 'string') return { kind: 'account', id: c.id };
  if (c.kind === 'policy') return { kind: 'policy' };
  if (
    c.kind === 'credits' &&
    typeof c.account === 'string' &&
    typeof c.ledgerId === 'string' &&
    Number.isSafeInteger(c.delta)
  ) {
    return { kind: 'credits', account: c.account, ledgerId: c.ledgerId, delta: c.delta as number };
  }
  return null;
}
