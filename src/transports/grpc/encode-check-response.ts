// gRPC ext_authz: CheckResponse → wire bytes, written once into one Buffer.
//
// The generated encoder (ts-proto over @bufbuild/protobuf's BinaryWriter) allocates a Uint8Array per
// string and per nested message, then copies the result twice (finish(), Buffer.from). A response
// carries ~10 header options, so that garbage was a large share of the gRPC path's GC time. This
// writes the same bytes — field for field in the generated order, which a test checks against the
// generated encoder — sizing every message first. Anything this file does not write (dynamic
// metadata, an error response, query parameters to set, status details, negative enums) goes to the
// generated encoder, so no field is ever dropped.

import type { HeaderValue, HeaderValueOption } from '../../generated/envoy/config/core/v3/base.js';
import {
  CheckResponse,
  type DeniedHttpResponse,
  type OkHttpResponse,
} from '../../generated/envoy/service/auth/v3/external_auth.js';
import type { Status } from '../../generated/google/rpc/status.js';

/** `headroom` bytes are left free before the message (the lean server writes its gRPC prefix there). */
export function encodeCheckResponse(message: CheckResponse, headroom = 0): Buffer {
  if (!supported(message)) {
    const bytes = CheckResponse.encode(message).finish();
    const buf = Buffer.allocUnsafe(headroom + bytes.length);
    buf.set(bytes, headroom);
    return buf;
  }
  const w = new Writer(checkResponseSize(message), headroom);
  if (message.status !== undefined) {
    w.message(10, statusSize(message.status));
    writeStatus(w, message.status);
  }
  if (message.deniedResponse !== undefined) {
    w.message(18, deniedSize(message.deniedResponse));
    writeDenied(w, message.deniedResponse);
  }
  if (message.okResponse !== undefined) {
    w.message(26, okSize(message.okResponse));
    writeOk(w, message.okResponse);
  }
  return w.buf;
}

function supported(m: CheckResponse): boolean {
  if (m.errorResponse !== undefined || m.dynamicMetadata !== undefined) return false;
  if (m.status && (m.status.details.length > 0 || m.status.code < 0)) return false;
  if (
    m.deniedResponse &&
    ((m.deniedResponse.status?.code ?? 0) < 0 || !m.deniedResponse.headers.every(optionSupported))
  )
    return false;
  const ok = m.okResponse;
  if (
    ok &&
    (ok.dynamicMetadata !== undefined ||
      ok.queryParametersToSet.length > 0 ||
      !ok.headers.every(optionSupported) ||
      !ok.responseHeadersToAdd.every(optionSupported))
  )
    return false;
  return true;
}
const optionSupported = (o: HeaderValueOption) => o.appendAction >= 0;

// ── Sizes ─────────────────────────────────────────────────────────────────────────────────────

const varintSize = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);
/** One length-delimited field (tags here are all below 16: one byte). */
const field = (length: number) => 1 + varintSize(length) + length;
const stringField = (s: string) => (s === '' ? 0 : field(Buffer.byteLength(s)));
const intField = (v: number) => (v === 0 ? 0 : 1 + varintSize(v));

function checkResponseSize(m: CheckResponse): number {
  return (
    (m.status ? field(statusSize(m.status)) : 0) +
    (m.deniedResponse ? field(deniedSize(m.deniedResponse)) : 0) +
    (m.okResponse ? field(okSize(m.okResponse)) : 0)
  );
}
const statusSize = (s: Status) => intField(s.code) + stringField(s.message);
function deniedSize(d: DeniedHttpResponse): number {
  let size = d.status ? field(intField(d.status.code)) : 0;
  for (const o of d.headers) size += field(optionSize(o));
  return size + stringField(d.body);
}
function okSize(ok: OkHttpResponse): number {
  let size = 0;
  for (const o of ok.headers) size += field(optionSize(o));
  for (const name of ok.headersToRemove) size += field(Buffer.byteLength(name));
  for (const o of ok.responseHeadersToAdd) size += field(optionSize(o));
  for (const name of ok.queryParametersToRemove) size += field(Buffer.byteLength(name));
  return size;
}
function optionSize(o: HeaderValueOption): number {
  return (
    (o.header ? field(headerSize(o.header)) : 0) +
    (o.append === undefined ? 0 : field(o.append ? 2 : 0)) +
    intField(o.appendAction) +
    (o.keepEmptyValue ? 2 : 0)
  );
}
const headerSize = (h: HeaderValue) =>
  stringField(h.key) + stringField(h.value) + (h.rawValue.length === 0 ? 0 : field(h.rawValue.length));

// ── Writing (the generated encoders' field order) ──────────────────────────────────────────────

function writeStatus(w: Writer, s: Status): void {
  w.int(8, s.code);
  w.string(18, s.message);
}
function writeDenied(w: Writer, d: DeniedHttpResponse): void {
  if (d.status) {
    w.message(10, intField(d.status.code));
    w.int(8, d.status.code);
  }
  for (const o of d.headers) writeOption(w, 18, o);
  w.string(26, d.body);
}
function writeOk(w: Writer, ok: OkHttpResponse): void {
  for (const o of ok.headers) writeOption(w, 18, o);
  for (const name of ok.headersToRemove) w.string(42, name, true);
  for (const o of ok.responseHeadersToAdd) writeOption(w, 50, o);
  for (const name of ok.queryParametersToRemove) w.string(66, name, true);
}
function writeOption(w: Writer, tag: number, o: HeaderValueOption): void {
  w.message(tag, optionSize(o));
  if (o.header) {
    w.message(10, headerSize(o.header));
    w.string(10, o.header.key);
    w.string(18, o.header.value);
    if (o.header.rawValue.length > 0) {
      w.message(26, o.header.rawValue.length);
      w.raw(o.header.rawValue);
    }
  }
  // google.protobuf.BoolValue: an empty message for false, field 1 = 1 for true.
  if (o.append !== undefined) {
    w.message(18, o.append ? 2 : 0);
    if (o.append) w.int(8, 1);
  }
  w.int(24, o.appendAction);
  if (o.keepEmptyValue) w.int(32, 1);
}

class Writer {
  readonly buf: Buffer;
  private pos = 0;

  constructor(size: number, headroom: number) {
    this.buf = Buffer.allocUnsafe(headroom + size);
    this.pos = headroom;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** Tag and length of a nested message; its fields follow. */
  message(tag: number, length: number): void {
    this.byte(tag);
    this.varint(length);
  }

  /** A non-zero int field (proto3 leaves 0 out). */
  int(tag: number, v: number): void {
    if (v === 0) return;
    this.byte(tag);
    this.varint(v);
  }

  /** A string field; proto3 leaves '' out, except in a repeated field (`always`). */
  string(tag: number, s: string, always = false): void {
    if (s === '' && !always) return;
    this.byte(tag);
    this.varint(Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}
