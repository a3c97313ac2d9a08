// Who is calling: the one key check every door uses (checkAccess, self-service). Unknown, expired and
// revoked keys get the same answer, so the answer tells a caller nothing about other keys.

import { hashApiKey, isWellFormedKey } from './api-key.js';
import type { KeyRecord, KeyStore } from './key-store.js';

/** What a caller is told when the key check fails (every door says the same). */
export const KEY_DETAILS = {
  missing_api_key: 'Send your API key in the x-api-key header or as Authorization: Bearer.',
  invalid_api_key: 'The API key is unknown, expired or revoked.',
} as const;

export type KeyVerdict =
  | { valid: true; record: KeyRecord }
  | { valid: false; code: 'missing_api_key' | 'invalid_api_key' };

const MISSING: KeyVerdict = { valid: false, code: 'missing_api_key' };
const INVALID: KeyVerdict = { valid: false, code: 'invalid_api_key' };

/** `nowMs` is the wall clock, for expiry only. Throws StoreUnavailable when the key store cannot answer. */
export async function verifyKey(
  keys: KeyStore,
  apiKey: string | undefined,
  nowMs: number,
): Promise<KeyVerdict> {
  return verifyKeyNow(keys, apiKey, nowMs);
}

/**
 * verifyKey for the decision path: the verdict itself when no store has to be asked (no key, a
 * malformed one, or one the cache holds), a promise only when the lookup must load.
 */
export function verifyKeyNow(
  keys: KeyStore,
  apiKey: string | undefined,
  nowMs: number,
): KeyVerdict | Promise<KeyVerdict> {
  if (!apiKey) return MISSING;
  // Not the shape Tollgate issues: refused before hashing, so junk reaches neither the caches nor Postgres.
  if (!isWellFormedKey(apiKey)) return INVALID;
  const hash = hashApiKey(apiKey);
  const cached = keys.findCached?.(hash);
  if (cached !== undefined) return verdictOf(cached, nowMs);
  return keys.findByHash(hash).then((record) => verdictOf(record, nowMs));
}

function verdictOf(record: KeyRecord | null, nowMs: number): KeyVerdict {
  if (!record || record.revoked || (record.expiresAt !== null && record.expiresAt <= nowMs)) return INVALID;
  return { valid: true, record };
}
