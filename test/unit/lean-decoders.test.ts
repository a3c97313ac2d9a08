// The lean gRPC server's hand-written decoders against the generated ones: same fields read from the
// same bytes, unknown fields skipped, bad bytes refused.

import { describe, expect, it } from 'vitest';
import { CheckRequest } from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { RateLimitRequest } from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { RateLimitUnit } from '../../src/generated/envoy/type/v3/ratelimit_unit.js';
import { accessRequestFromCheck } from '../../src/transports/grpc/access-request-from-check.js';
import { decodeCheckRequest } from '../../src/transports/grpc/lean/decode-check-request.js';
import { decodeRateLimitRequest } from '../../src/transports/grpc/lean/decode-rate-limit-request.js';
import { MalformedMessage } from '../../src/transports/grpc/lean/proto-reader.js';

const bytes = (message: Uint8Array) => Buffer.from(message);
const lean = (buf: Buffer) => decodeCheckRequest(buf, 0, buf.length);

describe('decodeCheckRequest', () => {
  const full = CheckRequest.fromPartial({
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.1', portValue: 5555 } },
        principal: 'spiffe://x',
      },
      destination: { service: 'api', labels: { a: 'b' } },
      request: {
        time: { seconds: 1_700_000_000, nanos: 5 },
        http: {
          id: '42',
          method: 'POST',
          path: '/v1/chat/completions?x=é',
          host: 'api.example.com',
          headers: {
            ':path': '/v1/chat',
            'x-api-key': 'tg_live_k',
            'x-tollgate-tier': 'spoof',
            'x-request-id': 'r1',
          },
          body: 'ignored',
          rawBody: Buffer.from([1, 2, 3]),
          size: 99,
          protocol: 'HTTP/2',
        },
      },
      contextExtensions: { 'tollgate.endpoint': 'chat', 'tollgate.cost': '7' },
      metadataContext: { filterMetadata: { f: { fields: { k: { stringValue: 'v' } } } } },
      tlsSession: { sni: 'api.example.com' },
    },
  });

  it('reads method, path, headers and context_extensions, skipping every other field', () => {
    const decoded = lean(bytes(CheckRequest.encode(full).finish()));
    expect(decoded.attributes?.request?.http).toEqual({
      method: 'POST',
      path: '/v1/chat/completions?x=é',
      headers: full.attributes!.request!.http!.headers,
    });
    expect({ ...decoded.attributes?.contextExtensions }).toEqual(full.attributes!.contextExtensions);
    expect(accessRequestFromCheck(decoded)).toEqual(accessRequestFromCheck(full));
  });

  it('reads header_map (encode_raw_headers) with raw bytes, duplicates kept', () => {
    const raw = CheckRequest.fromPartial({
      attributes: {
        request: {
          http: {
            method: 'GET',
            path: '/x',
            headerMap: {
              headers: [
                { key: 'X-Api-Key', rawValue: Buffer.from('tg_live_raw') },
                { key: 'x-a', rawValue: Buffer.from([0xff, 0x41]) },
                { key: 'x-a', value: 'two' },
              ],
            },
          },
        },
      },
    });
    const decoded = lean(bytes(CheckRequest.encode(raw).finish()));
    expect(accessRequestFromCheck(decoded)).toEqual(accessRequestFromCheck(raw));
    expect(decoded.attributes?.request?.http?.headerMap?.headers.map((h) => h.key)).toEqual([
      'X-Api-Key',
      'x-a',
      'x-a',
    ]);
  });

  it('an empty message is a request without attributes; a repeated message field is merged', () => {
    expect(lean(Buffer.alloc(0))).toEqual({});
    const a = bytes(
      CheckRequest.encode(
        CheckRequest.fromPartial({ attributes: { contextExtensions: { a: '1' } } }),
      ).finish(),
    );
    const b = bytes(
      CheckRequest.encode(
        CheckRequest.fromPartial({ attributes: { request: { http: { path: '/p' } } } }),
      ).finish(),
    );
    const merged = lean(Buffer.concat([a, b]));
    expect(merged.attributes?.request?.http?.path).toBe('/p');
    expect(merged.attributes?.contextExtensions['a']).toBe('1');
    expect(accessRequestFromCheck(merged)).toEqual(
      accessRequestFromCheck(CheckRequest.decode(Buffer.concat([a, b]))),
    );
  });

  it('a header named __proto__ is just a name', () => {
    // Generated code cannot encode that name (assigning it sets a prototype): a stand-in of the same length.
    const headers = { zzzzzzzzz: 'x', 'x-api-key': 'k' };
    const m = CheckRequest.encode(
      CheckRequest.fromPartial({ attributes: { request: { http: { headers } } } }),
    );
    const buf = bytes(m.finish());
    buf.write('__proto__', buf.indexOf('zzzzzzzzz'), 'latin1');
    const decoded = lean(buf).attributes?.request?.http?.headers ?? {};
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.keys(decoded)).toEqual(['__proto__', 'x-api-key']);
    expect(decoded['x-api-key']).toBe('k');
  });

  it.each([
    ['a truncated length', Buffer.from([0x0a, 0x05, 0x01])],
    ['a varint past the end', Buffer.from([0x08, 0xff])],
    ['an 11-byte varint', Buffer.from([0x08, ...Array(10).fill(0xff), 0x01])],
    ['field number 0', Buffer.from([0x00, 0x01])],
    ['wire type 7', Buffer.from([0x0f])],
    ['a nested field running past its message', Buffer.from([0x0a, 0x02, 0x22, 0x05, 0, 0, 0, 0, 0])],
  ])('refuses %s', (_name, buf) => {
    expect(() => lean(buf)).toThrow(MalformedMessage);
  });
});

describe('decodeRateLimitRequest', () => {
  it.each([
    {
      domain: 'edge',
      hitsAddend: 3,
      descriptors: [
        { entries: [{ key: 'remote_address', value: '10.0.0.1' }] },
        {
          entries: [
            { key: 'path', value: '/api/é' },
            { key: 'user', value: '' },
          ],
          limit: { requestsPerUnit: 4_294_967_295, unit: RateLimitUnit.HOUR },
          hitsAddend: 0,
        },
        { entries: [], hitsAddend: 1_000_000_001 },
        { entries: [{ key: 'k', value: 'v' }], limit: { requestsPerUnit: 1, unit: -1 as RateLimitUnit } },
      ],
    },
    { domain: '', hitsAddend: 4_294_967_295, descriptors: [] },
  ])('reads what the generated decoder reads (%#)', (partial) => {
    const buf = bytes(RateLimitRequest.encode(RateLimitRequest.fromPartial(partial)).finish());
    expect(decodeRateLimitRequest(buf, 0, buf.length)).toEqual(RateLimitRequest.decode(buf));
  });
});
