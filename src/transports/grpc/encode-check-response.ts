// gRPC ext_authz: CheckResponse → wire bytes, written once into one Buffer.
//
// The generated encoder (ts-proto over @bufbuild/protobuf's BinaryWriter) allocates a Uint8Array per
// string and per nested message, then copies the result twice (finish(), Buffer.from). A response
// carries ~10 header options, so that garbage was a large share of the gRPC path's GC time. This
// writes the same bytes — field for field in the generated order, which a test checks against the
// generated encoder — in one pass that reads each string once. Anything this file does not write (dynamic
// metadata, an error response, query parameters to set, status details, negative enums) goes to the
// generated encoder, so no field is ever dropped.

import type { HeaderValueOption } from '../../generated/envoy/config/core/v3/base.js';
import {
  CheckResponse,
  type DeniedHttpResponse,
  type OkHttpResponse,
} from '../../generated/envoy/service/auth/v3/external_auth.js';
import type { Status } from '../../generated/google/rpc/status.js';
import { FIELD_OVERHEAD, type ProtoWriter, protoWriter, stringBound, withHeadroom } from './proto-writer.js';

/** `headroom` bytes are left free before the message (the lean server writes its gRPC prefix there). */
export function encodeCheckResponse(message: CheckResponse, headroom = 0): Buffer {
  if (!supported(message)) return withHeadroom(CheckResponse.encode(message).finish(), headroom);
  const w = protoWriter(headroom + upperBound(message), headroom);
  if (message.status !== undefined) {
    const at = w.begin(10);
    writeStatus(w, message.status);
    w.end(at);
  }
  if (message.deniedResponse !== undefined) {
    const at = w.begin(18);
    writeDenied(w, message.deniedResponse);
    w.end(at);
  }
  if (message.okResponse !== undefined) {
    const at = w.begin(26);
    writeOk(w, message.okResponse);
    w.end(at);
  }
  return w.result();
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

// ── Size bound (proto-writer.ts needs one, not the exact size) ──────────────────────────────────

function upperBound(m: CheckResponse): number {
  let size = 3 * FIELD_OVERHEAD;
  if (m.status) size += FIELD_OVERHEAD + stringBound(m.status.message);
  const denied = m.deniedResponse;
  if (denied) {
    size += 2 * FIELD_OVERHEAD + stringBound(denied.body);
    for (const o of denied.headers) size += optionBound(o);
  }
  const ok = m.okResponse;
  if (ok) {
    for (const o of ok.headers) size += optionBound(o);
    for (const name of ok.headersToRemove) size += stringBound(name);
    for (const o of ok.responseHeadersToAdd) size += optionBound(o);
    for (const name of ok.queryParametersToRemove) size += stringBound(name);
  }
  return size;
}
function optionBound(o: HeaderValueOption): number {
  const h = o.header;
  const header = h ? stringBound(h.key) + stringBound(h.value) + FIELD_OVERHEAD + h.rawValue.length : 0;
  return 5 * FIELD_OVERHEAD + header;
}

// ── Writing (the generated encoders' field order) ──────────────────────────────────────────────

function writeStatus(w: ProtoWriter, s: Status): void {
  w.int(8, s.code);
  w.string(18, s.message);
}
function writeDenied(w: ProtoWriter, d: DeniedHttpResponse): void {
  if (d.status) {
    const at = w.begin(10);
    w.int(8, d.status.code);
    w.end(at);
  }
  for (const o of d.headers) writeOption(w, 18, o);
  w.string(26, d.body);
}
function writeOk(w: ProtoWriter, ok: OkHttpResponse): void {
  for (const o of ok.headers) writeOption(w, 18, o);
  for (const name of ok.headersToRemove) w.string(42, name, true);
  for (const o of ok.responseHeadersToAdd) writeOption(w, 50, o);
  for (const name of ok.queryParametersToRemove) w.string(66, name, true);
}
function writeOption(w: ProtoWriter, tag: number, o: HeaderValueOption): void {
  const at = w.begin(tag);
  const h = o.header;
  if (h) {
    const header = w.begin(10);
    w.string(10, h.key);
    w.string(18, h.value);
    if (h.rawValue.length > 0) {
      w.byte(26);
      w.varint(h.rawValue.length);
      w.raw(h.rawValue);
    }
    w.end(header);
  }
  // google.protobuf.BoolValue: an empty message for false, field 1 = 1 for true.
  if (o.append !== undefined) {
    w.byte(18);
    w.byte(o.append ? 2 : 0);
    if (o.append) w.int(8, 1);
  }
  w.int(24, o.appendAction);
  if (o.keepEmptyValue) w.int(32, 1);
  w.end(at);
}
