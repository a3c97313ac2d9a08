// Lean gRPC server, framing: the gRPC-over-HTTP/2 pieces node:http2 does not know (length-prefixed
// messages, grpc-timeout, grpc-status / grpc-message), per github.com/grpc/grpc doc/PROTOCOL-HTTP2.md.

import type { OutgoingHttpHeaders } from 'node:http2';

/** Compressed flag (1 byte) + message length (4 bytes, big-endian) before every message. */
export const PREFIX_BYTES = 5;

/** Response headers of every call (identity is the one encoding served; said on every answer). */
export const RESPONSE_HEADERS: OutgoingHttpHeaders = {
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': 'identity',
};
/**
 * How answers are sent: with a message, trailers on 'wantTrailers'; or trailers-only. Neither carries a
 * `date` header: gRPC has no use for one, and node:http2 adds it to every response unless `sendDate`
 * is false (read by respond() though its types leave it out; a Node that ignored it would send it).
 */
export const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false } as const;
export const TRAILERS_ONLY_OPTIONS = { endStream: true, sendDate: false } as const;
export const OK_TRAILERS: OutgoingHttpHeaders = { 'grpc-status': '0' };

/** Writes the 5-byte prefix at the start of `buf`, whose message follows it. */
export function writePrefix(buf: Buffer): Buffer {
  buf[0] = 0;
  buf.writeUInt32BE(buf.length - PREFIX_BYTES, 1);
  return buf;
}

/** A message encoded elsewhere, framed (one copy). */
export function framed(message: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  buf.set(message, PREFIX_BYTES);
  return writePrefix(buf);
}

/** Headers ending a call: trailers after messages, or a whole trailers-only answer (`withHeaders`). */
export function statusHeaders(code: number, details: string, withHeaders: boolean): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = withHeaders ? { ...RESPONSE_HEADERS } : {};
  headers['grpc-status'] = String(code);
  if (details !== '') headers['grpc-message'] = encodeMessage(details);
  return headers;
}

/** grpc-message is percent-encoded UTF-8: everything outside printable ASCII, and '%' itself. */
export function encodeMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8'))
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
/** Above this setTimeout would fire at once (2^31 - 1 ms): such a deadline is no deadline. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * grpc-timeout → ms (undefined: none); NaN when malformed. At least 1 ms, so a sub-millisecond
 * deadline still expires rather than being taken for none.
 */
export function timeoutMs(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = TIMEOUT.exec(Array.isArray(header) ? (header[0] ?? '') : header);
  if (!match) return Number.NaN;
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return ms > MAX_TIMER_MS ? undefined : Math.max(1, Math.ceil(ms));
}
