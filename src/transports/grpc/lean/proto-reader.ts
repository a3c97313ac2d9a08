// Lean gRPC server, decoding: a protobuf wire reader over one request message, for hand-written decoders
// that read only the fields a decision needs and skip the rest.

import { recentName } from './recent-names.js';

/** Thrown for bytes that are not a valid protobuf encoding; the server answers INVALID_ARGUMENT (lean-call.ts). */
export class MalformedMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMessage';
  }
}

/** Nesting beyond this (only reachable through skipped groups) is refused rather than recursed into. */
const MAX_GROUP_DEPTH = 64;

export class ProtoReader {
  pos: number;
  /** High bits of the last varint read (above 2^32), for the 64-bit readers. */
  private hi = 0;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's tag: field number × 8 + wire type. */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) throw new MalformedMessage('field number 0');
    return tag;
  }

  /** Low 32 bits of a varint, unsigned (uint32, enum and tag fields); `hi` keeps the rest. */
  uint32(): number {
    const { buf, end } = this;
    let lo = 0;
    let shift = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new MalformedMessage('truncated varint');
      const b = buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << shift;
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x70) >>> 4;
      } else hi += (b & 0x7f) * 2 ** (7 * (i - 5) + 3);
      shift += 7;
      if (b < 0x80) {
        this.hi = hi;
        return lo >>> 0;
      }
    }
    throw new MalformedMessage('varint longer than 10 bytes');
  }

  /** A uint64 as a number (exact up to 2^53; callers bound it far below that). */
  uint64(): number {
    const lo = this.uint32();
    return this.hi * 4_294_967_296 + lo;
  }

  /** int32 / enum: the low 32 bits, signed. */
  int32(): number {
    return this.uint32() | 0;
  }

  /** Length of a length-delimited field, checked against what is left. */
  length(): number {
    const length = this.uint32();
    if (this.hi !== 0 || length > this.end - this.pos)
      throw new MalformedMessage('length beyond the message');
    return length;
  }

  /** A string field: invalid UTF-8 becomes U+FFFD, as in the generated decoders. */
  string(): string {
    const length = this.length();
    const start = this.pos;
    this.pos += length;
    return length === 0 ? '' : this.buf.toString('utf8', start, this.pos);
  }

  /** A string field that names something (a header, a descriptor key): see recent-names.ts. */
  name(): string {
    const length = this.length();
    const start = this.pos;
    this.pos += length;
    return length === 0 ? '' : recentName(this.buf, start, this.pos);
  }

  /** A bytes field as a view into the request (valid for the call only). */
  bytes(): Buffer {
    const length = this.length();
    const start = this.pos;
    this.pos += length;
    return this.buf.subarray(start, this.pos);
  }

  /** The end offset of a nested message starting here; the caller reads fields until `pos` reaches it. */
  nested(): number {
    const length = this.length();
    return this.pos + length;
  }

  /** After a nested message's fields: they must end exactly where its length said. */
  finish(end: number): void {
    if (this.pos !== end) throw new MalformedMessage('field beyond its message');
  }

  /** Skips the value of a field the decoder does not need. */
  skip(tag: number, depth = 0): void {
    switch (tag & 7) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 3: {
        if (depth >= MAX_GROUP_DEPTH) throw new MalformedMessage('groups nested too deep');
        for (;;) {
          const inner = this.tag();
          if ((inner & 7) === 4) {
            if (inner >>> 3 !== tag >>> 3) throw new MalformedMessage('mismatched end group');
            return;
          }
          this.skip(inner, depth + 1);
        }
      }
      case 5:
        this.advance(4);
        return;
      default:
        throw new MalformedMessage(`invalid wire type ${tag & 7}`);
    }
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) throw new MalformedMessage('field beyond the message');
    this.pos += bytes;
  }
}
