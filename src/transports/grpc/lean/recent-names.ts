// Lean gRPC server, decoding: the strings that repeat on every request (header names, descriptor keys,
// a domain, a method) returned from a small cache by their bytes, not decoded again. Decoding a short
// string is a call into C++ and a new string each time; the profile of the Check row put string
// decoding at 2.5% of the server's busy time, and about half of those strings are names.
//
// Only names go through here, never values: a header value may be a secret, and nothing secret is
// kept past its request.

/** Direct-mapped: one slot per hash bucket, the newest string wins it. Bounded, and a flood of new
 * names only makes them miss (no chains to grow). */
const SLOTS = 1024;
const MAX_LENGTH = 40;
const slots: Array<string | undefined> = new Array(SLOTS).fill(undefined);

/** The string of ASCII bytes buf[start, end): the cached one when its characters are these bytes. */
export function recentName(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n > MAX_LENGTH) return buf.toString('utf8', start, end);
  let h = n;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    // Not ASCII: UTF-8 decoding (invalid bytes become U+FFFD), uncached.
    if (b >= 0x80) return buf.toString('utf8', start, end);
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h >>> 0) & (SLOTS - 1);
  const cached = slots[slot];
  if (cached !== undefined && cached.length === n && sameBytes(cached, buf, start)) return cached;
  const fresh = buf.toString('latin1', start, end);
  slots[slot] = fresh;
  return fresh;
}

function sameBytes(s: string, buf: Buffer, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}
