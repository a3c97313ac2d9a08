// Admin listener, first step of every request: `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Returns a checker for the header value. Both sides are hashed first, so timingSafeEqual always
 * compares 32 bytes and neither the token's length nor a common prefix shows in the timing.
 */
export function adminTokenChecker(token: string): (authorization: string | undefined) => boolean {
  if (token.length === 0) throw new Error('adminTokenChecker: the admin token must not be empty');
  const expected = digest(token);
  return (authorization) => {
    const match = BEARER.exec(authorization ?? '');
    return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
