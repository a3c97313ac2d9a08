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

/** `nowMs` is the wall clock, for expiry only. Throws StoreUnavailable when the key store cannot answer. */
export async function verifyKey(
  keys: KeyStore,
  apiKey: string | undefined,
  nowMs: number,
): Promise<KeyVerdict> {
  if (!apiKey) return { valid: false, code: 'missing_api_key' };
  // Not the shape Tollgate issues: refused before hashing, so junk reaches neither the caches nor Postgres.
  if (!isWellFormedKey(apiKey)) return { valid: false, code: 'invalid_api_key' };
  const record = await keys.findByHash(hashApiKey(apiKey));
  if (!record || record.revoked || (record.expiresAt !== null && record.expiresAt <= nowMs))
    return { valid: false, code: 'invalid_api_key' };
  return { valid: true, record };
}
