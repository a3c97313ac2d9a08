// Public sign-up: one mailbox, one account — the canonical mailbox and its HMAC (the only form stored).
//
// Spellings that reach the same inbox must map to one string, or each is a new free account:
// - default-ignorable characters (zero-width space/joiner, soft hyphen, BOM…) are removed: invisible,
//   and mail systems drop or reject them;
// - NFKC folds compatibility forms (fullwidth `ｊａｎｅ＠ｇｍａｉｌ．ｃｏｍ`, ligatures) to plain letters;
// - quotes around the local part are removed (`"jane"@x` is `jane@x`);
// - case is folded (in practice no provider delivers by case);
// - `+tag` is dropped for every domain: Gmail, Outlook, iCloud, Fastmail, Proton and most others deliver
//   `jane+x` to `jane`, and the rare domain where `+` is part of a distinct mailbox costs one person a
//   second sign-up there, while not dropping it gives everyone endless accounts;
// - dots are dropped only at Gmail, the one large provider that ignores them (`j.ane` and `jane` are
//   different people elsewhere); gmail.com, googlemail.com and their subdomains are one domain;
// - the domain is compared in its ASCII (punycode) form, so a Unicode and a punycode spelling agree.

import { createHmac } from 'node:crypto';
import { domainToASCII } from 'node:url';

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
const LOCAL = /^[^\s@"\\]{1,64}$/;
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const GMAIL = /(^|\.)(gmail|googlemail)\.com$/;

/** The canonical mailbox, or null when it is not an email address (at most 254 characters). */
export function normalizeEmail(raw: string): string | null {
  if (raw.length > 1024) return null;
  const folded = raw.replace(DEFAULT_IGNORABLE, '').normalize('NFKC').replace(DEFAULT_IGNORABLE, '');
  const email = folded.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at < 1) return null;
  let local = unquote(email.slice(0, at));
  let domain = domainToASCII(email.slice(at + 1).replace(/\.$/, ''));
  if (local === null || !DOMAIN.test(domain)) return null;
  local = local.split('+')[0]!;
  if (GMAIL.test(domain)) {
    local = local.replaceAll('.', '');
    domain = 'gmail.com';
  }
  if (!LOCAL.test(local)) return null;
  const canonical = `${local}@${domain}`;
  return canonical.length <= 254 ? canonical : null;
}

/** `"jane"` → `jane`; quotes elsewhere, or an escape, are not taken apart (null: refused). */
function unquote(local: string): string | null {
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) local = local.slice(1, -1);
  return local.includes('"') || local.includes('\\') ? null : local;
}

/**
 * Hex HMAC-SHA256 of the canonical mailbox under SIGNUP_SECRET: what the signups table's unique key
 * holds. Without the secret, a known address cannot be checked against the table.
 */
export const emailHash = (secret: string, normalized: string): string =>
  createHmac('sha256', secret).update(normalized).digest('hex');
