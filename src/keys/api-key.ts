// Key issuance and lookup: the plaintext key format and its SHA-256, the only form ever stored or looked up.

import { hash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'tg_live_';
/** Characters of the key kept in the database for support lookups (`tg_live_` + 4). */
export const PREFIX_LENGTH = 12;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'; // RFC 4648 base32, lower-case

/** `chars` lower-case base32 characters, 5 random bits each (no modulo bias: 32 divides 256). */
export function randomBase32(chars: number): string {
  const bytes = randomBytes(chars);
  let out = '';
  for (let i = 0; i < chars; i++) out += ALPHABET[bytes[i]! & 31];
  return out;
}

/** A new key: `tg_live_` + 32 base32 characters (160 bits). `key` is shown once, never stored. */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = KEY_PREFIX + randomBase32(32);
  return { key, hash: hashApiKey(key), prefix: key.slice(0, PREFIX_LENGTH) };
}

/** Lower-case hex SHA-256 of the key as sent (on every decision: the one-shot hash skips a Hash object). */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

const KEY_FORMAT = /^tg_live_[a-z2-7]{32}$/;

/** Whether `key` has the shape generateApiKey() issues: anything else is refused before hashing or lookup. */
export function isWellFormedKey(key: string): boolean {
  return key.length === KEY_PREFIX.length + 32 && KEY_FORMAT.test(key);
}
