// Support (CLI, admin API): issue, revoke and rotate API keys. The plaintext is returned once; only its hash is stored.

import { notifyChange } from '../db/notify-change.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { generateApiKey, randomBase32 } from '../keys/api-key.js';
import { requireAccount } from './create-account.js';

export interface NewKey {
  accountId: string;
  name?: string;
  expiresAt?: Date;
}

export interface CreatedKey {
  id: string;
  /** The plaintext key: shown once, never stored or logged. */
  key: string;
  /** First 12 characters (`tg_live_ab12`), stored for support lookups. */
  prefix: string;
}

/** `key_` + 16 lower-case base32 characters. */
export const newKeyId = (): string => `key_${randomBase32(16)}`;

export async function createKey(sql: Sql, input: NewKey): Promise<CreatedKey> {
  if (
    input.expiresAt !== undefined &&
    !(input.expiresAt instanceof Date && Number.isFinite(input.expiresAt.getTime()))
  ) {
    throw new InputError([{ path: 'expiresAt', message: 'expected a date' }]);
  }
  return sql.transaction(async (tx) => {
    await requireAccount(tx, input.accountId);
    return insertKey(tx, input.accountId, input.name ?? null, input.expiresAt ?? null);
  });
}

async function insertKey(
  sql: Sql,
  accountId: string,
  name: string | null,
  expiresAt: Date | null,
): Promise<CreatedKey> {
  const { key, hash, prefix } = generateApiKey();
  const id = newKeyId();
  await sql.query(
    'insert into api_keys (id, account_id, key_hash, prefix, name, expires_at) values ($1, $2, $3, $4, $5, $6::timestamptz)',
    [id, accountId, hash, prefix, name, expiresAt],
  );
  // A replica may have cached this hash as unknown (negative cache).
  await notifyChange(sql, { kind: 'key', hash });
  return { id, key, prefix };
}

/** Refused at once by this process after cache invalidation; idempotent for an already revoked key. */
export async function revokeKey(sql: Sql, keyId: string): Promise<void> {
  await sql.transaction(async (tx) => {
    const rows = await tx.query<{ key_hash: string }>(
      'update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning key_hash',
      [keyId],
    );
    if (rows.length === 0) throw new InputError([{ path: 'keyId', message: `unknown key "${keyId}"` }]);
    await notifyChange(tx, { kind: 'key', hash: rows[0]!.key_hash });
  });
}

/**
 * A new key for the same account (same name and expiry); the old one keeps working for `graceMs` ms,
 * then expires — both work during the grace period. A grace of 0 ends the old key now.
 */
export async function rotateKey(sql: Sql, keyId: string, graceMs: number): Promise<CreatedKey> {
  if (!Number.isSafeInteger(graceMs) || graceMs < 0)
    throw new InputError([{ path: 'graceMs', message: 'expected an integer >= 0 (ms)' }]);
  return sql.transaction(async (tx) => {
    const [old] = await tx.query<{
      account_id: string;
      key_hash: string;
      name: string | null;
      expires_at: Date | null;
      revoked: boolean;
    }>(
      'select account_id, key_hash, name, expires_at, revoked_at is not null as revoked from api_keys where id = $1 for update',
      [keyId],
    );
    if (!old) throw new InputError([{ path: 'keyId', message: `unknown key "${keyId}"` }]);
    if (old.revoked)
      throw new InputError([
        { path: 'keyId', message: `key "${keyId}" is revoked; create a new key instead` },
      ]);
    await tx.query(
      "update api_keys set expires_at = least(coalesce(expires_at, 'infinity'), now() + $2::bigint * interval '1 millisecond') where id = $1",
      [keyId, graceMs],
    );
    await notifyChange(tx, { kind: 'key', hash: old.key_hash });
    return insertKey(tx, old.account_id, old.name, old.expires_at);
  });
}
