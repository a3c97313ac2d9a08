// Public sign-up: one mailbox, one free account — the normalised email and its SHA-256 (the only form stored).

import { createHash } from 'node:crypto';

/** Gmail ignores dots in the local part; googlemail.com is the same mailbox. */
const GMAIL = new Set(['gmail.com', 'googlemail.com']);
const EMAIL =
  /^[^\s@]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Lower-case, `+tag` stripped, gmail dots dropped; null when it is not an email address (at most 254 characters). */
export function normalizeEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) return null;
  const at = email.lastIndexOf('@');
  let local = email.slice(0, at).split('+')[0]!;
  let domain = email.slice(at + 1);
  if (GMAIL.has(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  return local === '' ? null : `${local}@${domain}`;
}

/** Hex SHA-256 of the normalised email: what the signups table's unique key holds. */
export const emailHash = (normalized: string): string =>
  createHash('sha256').update(normalized).digest('hex');
