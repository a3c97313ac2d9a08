// gRPC, lean answers: a protobuf writer for the hand-written encoders (encode-check-response.ts,
// encode-rate-limit-response.ts), which write the generated encoders' bytes without their garbage.
//
// Nested messages are written before their length is known: each gets one byte for it, and the rare
// message of 128 bytes or more is moved up to make room for a longer varint (end()). So no sizes are
// computed ahead and each string is read once; the buffer only needs an upper bound.

/** Tag + the longest length varint + a nested message's own overhead: above any field's. */
export const FIELD_OVERHEAD = 16;
/** A string field at most (a UTF-16 code unit is at most 3 bytes of UTF-8). */
export const stringBound = (s: string) => FIELD_OVERHEAD + 3 * s.length;

const varintSize = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

export class ProtoWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint: `v` from 0 to 2^32 - 1 (callers leave anything else to the generated encoders). */
  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** Tag of a nested message and one byte for its length; its fields follow, then end(). */
  begin(tag: number): number {
    this.buf[this.pos++] = tag;
    return this.pos++;
  }

  /** The length of the message begun at `at`, moving its fields up when the varint needs more bytes. */
  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos = at;
    this.varint(length);
    this.pos += length;
  }

  /** The bytes written, in a Buffer of their own (the shared one is reused by the next call). */
  result(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** A non-zero int field (proto3 leaves 0 out); callers write negative values by the generated encoders. */
  int(tag: number, v: number): void {
    if (v === 0) return;
    this.byte(tag);
    this.varint(v);
  }

  /** A length-delimited bytes field (proto3 leaves an empty one out). */
  bytes(tag: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.byte(tag);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** A string field; proto3 leaves '' out, except in a repeated field (`always`). */
  string(tag: number, s: string, always = false): void {
    if (s === '' && !always) return;
    this.byte(tag);
    const n = s.length;
    if (n < 0x80) {
      // Header names and values are short and ASCII: copying the characters costs less than the calls
      // into C++ (Buffer.byteLength, buf.write) that were most of this encoder's time. One length byte.
      const buf = this.buf;
      const at = this.pos;
      let p = at + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[at] = n;
        this.pos = p;
        return;
      }
    }
    this.varint(Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

/** One buffer for every call (encoding is synchronous); a message that may not fit gets its own. */
const shared = new ProtoWriter(Buffer.allocUnsafe(16 * 1024));

/** A writer for at most `bound` bytes, `headroom` of them left free at the start. */
export function protoWriter(bound: number, headroom = 0): ProtoWriter {
  const w = bound <= shared.buf.length ? shared : new ProtoWriter(Buffer.allocUnsafe(bound));
  w.pos = headroom;
  return w;
}

/** Bytes another encoder wrote, after `headroom` free bytes. */
export function withHeadroom(bytes: Uint8Array, headroom: number): Buffer {
  const buf = Buffer.allocUnsafe(headroom + bytes.length);
  buf.set(bytes, headroom);
  return buf;
}
