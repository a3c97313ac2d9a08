// Support and billing reads (admin API, CLI): an account, its keys, its credit ledger. Never a key hash.

import type { Sql } from '../db/sql.js';

export interface AccountView {
  id: string;
  name: string;
  tier: string;
  status: 'active' | 'suspended';
  billingAnchorDay: number;
  billingCustomerId: string | null;
  createdAt: Date;
}

export interface KeyView {
  id: string;
  accountId: string;
  /** First 12 characters of the key (`tg_live_ab12`). */
  prefix: string;
  name: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface LedgerEntry {
  id: number;
  accountId: string;
  /** Credits; negative = debit or correction. */
  delta: number;
  reason: string;
  idempotencyKey: string | null;
  createdAt: Date;
}

const ACCOUNT_COLUMNS = 'id, name, tier, status, billing_anchor_day, billing_customer_id, created_at';
const KEY_COLUMNS = 'id, account_id, prefix, name, created_at, expires_at, revoked_at';
const LEDGER_COLUMNS = 'id, account_id, delta, reason, idempotency_key, created_at';

export async function findAccount(sql: Sql, accountId: string): Promise<AccountView | null> {
  const [row] = await sql.query(`select ${ACCOUNT_COLUMNS} from accounts where id = $1`, [accountId]);
  return row
    ? {
        id: row.id as string,
        name: row.name as string,
        tier: row.tier as string,
        status: row.status as AccountView['status'],
        billingAnchorDay: row.billing_anchor_day as number,
        billingCustomerId: row.billing_customer_id as string | null,
        createdAt: row.created_at as Date,
      }
    : null;
}

export async function findKey(sql: Sql, keyId: string): Promise<KeyView | null> {
  const [row] = await sql.query(`select ${KEY_COLUMNS} from api_keys where id = $1`, [keyId]);
  return row ? toKey(row) : null;
}

/** Keys whose stored 12-character prefix starts with `prefix` (oldest first, at most `limit`). */
export async function listKeysByPrefix(sql: Sql, prefix: string, limit = 100): Promise<KeyView[]> {
  // LIKE metacharacters in the prefix are matched literally.
  const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await sql.query(
    `select ${KEY_COLUMNS} from api_keys where prefix like $1 order by created_at, id limit $2::int`,
    [pattern, limit],
  );
  return rows.map(toKey);
}

export async function listAccountKeys(sql: Sql, accountId: string): Promise<KeyView[]> {
  const rows = await sql.query(
    `select ${KEY_COLUMNS} from api_keys where account_id = $1 order by created_at, id`,
    [accountId],
  );
  return rows.map(toKey);
}

/** The account's ledger, newest first. */
export async function creditLedger(sql: Sql, accountId: string, limit = 100): Promise<LedgerEntry[]> {
  const rows = await sql.query(
    `select ${LEDGER_COLUMNS} from credit_ledger where account_id = $1 order by id desc limit $2::int`,
    [accountId, limit],
  );
  return rows.map(toLedger);
}

/** The ledger row a top-up with this idempotency key wrote, and the account's balance right after it. */
export async function creditEntryByKey(
  sql: Sql,
  idempotencyKey: string,
): Promise<{ entry: LedgerEntry; balanceAfter: number } | null> {
  const [row] = await sql.query(
    `select ${LEDGER_COLUMNS},
            (select coalesce(sum(l.delta), 0) from credit_ledger l where l.account_id = c.account_id and l.id <= c.id) as balance_after
       from credit_ledger c where idempotency_key = $1`,
    [idempotencyKey],
  );
  return row ? { entry: toLedger(row), balanceAfter: row.balance_after as number } : null;
}

function toKey(row: Record<string, unknown>): KeyView {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    prefix: row.prefix as string,
    name: row.name as string | null,
    createdAt: row.created_at as Date,
    expiresAt: row.expires_at as Date | null,
    revokedAt: row.revoked_at as Date | null,
  };
}

function toLedger(row: Record<string, unknown>): LedgerEntry {
  return {
    id: row.id as number,
    accountId: row.account_id as string,
    delta: row.delta as number,
    reason: row.reason as string,
    idempotencyKey: row.idempotency_key as string | null,
    createdAt: row.created_at as Date,
  };
}
