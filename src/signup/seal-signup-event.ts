// Public sign-up → export: the signup.verify event's mailbox and token, sealed in the outbox row and
// opened only by the webhook sink as it delivers (AES-256-GCM, key derived from SIGNUP_SECRET).
//
// The outbox is a table like any other (backups, /admin/outbox, replicas of the database): what it holds
// must not confirm a sign-up or name a mailbox to whoever reads it.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** What the operator's mailer needs: where to send, and the token to put in the link. */
export interface SignupVerifyEvent {
  email: string;
  token: string;
  /** ISO 8601: the token is refused after it. */
  expires_at: string;
}

/** The outbox payload: version and the sealed JSON (base64url of iv ‖ tag ‖ ciphertext). */
export interface SealedPayload {
  v: 1;
  sealed: string;
}

const INFO = 'tollgate signup.verify outbox v1';

function key(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, '', INFO, 32));
}

export function sealSignupEvent(secret: string, event: SignupVerifyEvent): SealedPayload {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(event), 'utf8'), cipher.final()]);
  return { v: 1, sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url') };
}

/** Throws when the payload was not sealed with this secret (or was altered). */
export function unsealSignupEvent(secret: string, payload: Record<string, unknown>): SignupVerifyEvent {
  if (payload.v !== 1 || typeof payload.sealed !== 'string')
    throw new Error('signup.verify payload is not sealed (v1)');
  const raw = Buffer.from(payload.sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key(secret), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as SignupVerifyEvent;
  } catch {
    throw new Error('signup.verify payload does not open with SIGNUP_SECRET (changed secret?)');
  }
}
