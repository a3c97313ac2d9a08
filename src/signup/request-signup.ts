// Public sign-up, step 1 (POST /v1/signup with SIGNUP_CONFIRM on): a one-time token for the mailbox,
// sent to the operator's mailer as a sealed signup.verify outbox row — or nothing, if it has an account.
//
// The caller's answer is the same either way (no enumeration); only the mailbox's owner learns which,
// by the mail they get (or not).

import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import { sealSignupEvent } from './seal-signup-event.js';

/** Hex SHA-256 of a token: a token is 256 random bits, so its plain hash is all the storage needs. */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** base64url of 32 random bytes: 43 characters. */
export const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export async function requestSignup(
  sql: Sql,
  input: { email: string; emailHash: string; ip: string; secret: string; ttlMs: number },
): Promise<void> {
  await sql.transaction(async (tx) => {
    // Expired tokens go as new ones come (the index on expires_at keeps this cheap).
    await tx.query('delete from signup_tokens where expires_at < now()');
    const taken = await tx.query('select 1 from signups where email_hash = $1', [input.emailHash]);
    if (taken.length > 0) return;
    const token = randomBytes(32).toString('base64url');
    const [row] = await tx.query<{ expires_at: Date }>(
      `insert into signup_tokens (token_hash, email_hash, ip, expires_at)
       values ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') returning expires_at`,
      [tokenHash(token), input.emailHash, input.ip, input.ttlMs],
    );
    const expiresAt = new Date(row!.expires_at).toISOString();
    const payload = sealSignupEvent(input.secret, { email: input.email, token, expires_at: expiresAt });
    await tx.query(
      `insert into outbox (kind, account_id, payload) values ('signup.verify', '', $1::text::jsonb)`,
      [JSON.stringify(payload)],
    );
  });
}
