// Lean gRPC server, Check step 1: CheckRequest bytes → only the fields a decision reads (CheckFields),
// skipping the rest (peers, metadata, TLS, body). Field numbers: proto/envoy/service/auth/v3/*.proto.

import type { CheckFields } from '../access-request-from-check.js';
import { ProtoReader } from './proto-reader.js';

type Attributes = NonNullable<CheckFields['attributes']>;
type Http = NonNullable<NonNullable<Attributes['request']>['http']>;
type RawHeader = NonNullable<Http['headerMap']>['headers'][number];

// Tags (field number << 3 | wire type 2) of the length-delimited fields read here.
const CHECK_ATTRIBUTES = 10; // CheckRequest.attributes = 1
const ATTRIBUTES_REQUEST = 34; // AttributeContext.request = 4
const ATTRIBUTES_CONTEXT_EXTENSIONS = 82; // AttributeContext.context_extensions = 10
const REQUEST_HTTP = 18; // AttributeContext.Request.http = 2
const HTTP_METHOD = 18; // HttpRequest.method = 2
const HTTP_HEADERS = 26; // HttpRequest.headers = 3
const HTTP_PATH = 34; // HttpRequest.path = 4
const HTTP_HEADER_MAP = 106; // HttpRequest.header_map = 13
const HEADER_MAP_HEADERS = 10; // HeaderMap.headers = 1
const ENTRY_KEY = 10; // map entry key = 1; HeaderValue.key = 1
const ENTRY_VALUE = 18; // map entry value = 2; HeaderValue.value = 2
const HEADER_RAW_VALUE = 26; // HeaderValue.raw_value = 3

/** Throws MalformedMessage for bytes that are not protobuf. A message field seen twice is merged, as protobuf says. */
export function decodeCheckRequest(buf: Buffer, start: number, end: number): CheckFields {
  const r = new ProtoReader(buf, start, end);
  const check: CheckFields = {};
  while (!r.done) {
    const tag = r.tag();
    if (tag === CHECK_ATTRIBUTES)
      readAttributes(r, r.nested(), (check.attributes ??= { contextExtensions: record() }));
    else r.skip(tag);
  }
  r.finish(end);
  return check;
}

function readAttributes(r: ProtoReader, end: number, attributes: Attributes): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === ATTRIBUTES_REQUEST) {
      const requestEnd = r.nested();
      const request = (attributes.request ??= {});
      while (r.pos < requestEnd) {
        const inner = r.tag();
        if (inner === REQUEST_HTTP) readHttp(r, r.nested(), (request.http ??= emptyHttp()));
        else r.skip(inner);
      }
      r.finish(requestEnd);
    } else if (tag === ATTRIBUTES_CONTEXT_EXTENSIONS) readEntry(r, r.nested(), attributes.contextExtensions);
    else r.skip(tag);
  }
  r.finish(end);
}

function readHttp(r: ProtoReader, end: number, http: Http): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === HTTP_METHOD) http.method = r.name();
    else if (tag === HTTP_PATH) http.path = r.string();
    else if (tag === HTTP_HEADERS) readEntry(r, r.nested(), http.headers);
    else if (tag === HTTP_HEADER_MAP) {
      const mapEnd = r.nested();
      const headers = (http.headerMap ??= { headers: [] }).headers;
      while (r.pos < mapEnd) {
        const inner = r.tag();
        if (inner === HEADER_MAP_HEADERS) headers.push(readHeaderValue(r, r.nested()));
        else r.skip(inner);
      }
      r.finish(mapEnd);
    } else r.skip(tag);
  }
  r.finish(end);
}

/** One map<string,string> entry; a missing key or value is '' (proto3 defaults), the last one wins. */
function readEntry(r: ProtoReader, end: number, into: Record<string, string>): void {
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === ENTRY_KEY) key = r.name();
    else if (tag === ENTRY_VALUE) value = r.string();
    else r.skip(tag);
  }
  r.finish(end);
  into[key] = value;
}

function readHeaderValue(r: ProtoReader, end: number): RawHeader {
  const header: RawHeader = { key: '', value: '', rawValue: NO_BYTES };
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === ENTRY_KEY) header.key = r.name();
    else if (tag === ENTRY_VALUE) header.value = r.string();
    else if (tag === HEADER_RAW_VALUE) header.rawValue = r.bytes();
    else r.skip(tag);
  }
  r.finish(end);
  return header;
}

const NO_BYTES = Buffer.alloc(0);

/** Null-prototype records: a header or extension named `__proto__` is just a name. */
const record = () => Object.create(null) as Record<string, string>;
const emptyHttp = (): Http => ({ method: '', path: '', headers: record() });
