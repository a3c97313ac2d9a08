// Reservation ids: `<expiry ms, base36>.<16 random bytes, base64url>.<accountId>`.
//
// The id names its account (so a settle finds the account's Redis hash tag without a lookup) and
// when it stops being settleable (so a settle after expiry answers already_settled, not unknown,
// once the store has let the record go). The random part makes ids unguessable.

import { randomBytes } from 'node:crypto';

export interface ReservationIdParts {
  accountId: string;
  /** ms since the epoch after which the reservation stands at its reserved amount. */
  expiresAtMs: number;
  /** `<expiry>.<random>`: the store's key for the record under the account's tag. */
  local: string;
}

const ID = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})\.(.{1,200})$/;

export function newReservationId(accountId: string, nowMs: number, ttlMs: number): string {
  const expiry = (Math.floor(nowMs) + ttlMs).toString(36);
  return `${expiry}.${randomBytes(16).toString('base64url')}.${accountId}`;
}

/** undefined for anything newReservationId could not have made. */
export function parseReservationId(id: unknown): ReservationIdParts | undefined {
  if (typeof id !== 'string') return undefined;
  const m = ID.exec(id);
  if (!m) return undefined;
  const expiresAtMs = parseInt(m[1]!, 36);
  if (!Number.isSafeInteger(expiresAtMs)) return undefined;
  return { accountId: m[3]!, expiresAtMs, local: `${m[1]}.${m[2]}` };
}
