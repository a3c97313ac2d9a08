// Public sign-up, step 2 (POST /v1/signup/confirm): the mailbox's owner returns the token; it is used up
// and the account with its key is created — in one transaction.

import type { Sql } from '../db/sql.js';
import { createSignup, type SignupResult } from './create-signup.js';
import { tokenHash } from './request-signup.js';

/** null: the token is unknown, already used or expired. */
export async function confirmSignup(
  sql: Sql,
  input: { token: string; tier: string; confirmIp: string },
): Promise<SignupResult | null> {
  return sql.transaction(async (tx) => {
    const [row] = await tx.query<{ email_hash: string; ip: string; expired: boolean }>(
      'delete from signup_tokens where token_hash = $1 returning email_hash, ip, expires_at <= now() as expired',
      [tokenHash(input.token)],
    );
    if (!row || row.expired) return null;
    return createSignup(tx, {
      emailHash: row.email_hash,
      tier: input.tier,
      ip: row.ip,
      confirmIp: input.confirmIp,
    });
  });
}
