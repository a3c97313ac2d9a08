// The gRPC request bodies the bench sends, framed as on the wire: [0 = uncompressed][uint32 BE length]
// + message. ext_authz CheckRequest (Envoy's GET with an API key) and RLS RateLimitRequest (one
// descriptor, one entry), plus the paths and the descriptor values the RLS rows rotate over.

import { CheckRequest } from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { RateLimitRequest } from '../../src/generated/envoy/service/ratelimit/v3/rls.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
export const RLS_PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
/** bench/policy.yaml `ratelimit_domains`: domain and the descriptor key of each path. */
export const RLS_DOMAIN = 'bench';
export const RLS_ALLOW_KEY = 'bench_allow_user';
export const RLS_DENY_KEY = 'bench_deny_user';

export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message.buffer, message.byteOffset, message.length).copy(out, 5);
  return out;
}

/** A framed CheckRequest as Envoy sends it for a GET carrying `key` in x-api-key. */
export function checkBody(key: string): Buffer {
  return frame(
    CheckRequest.encode({
      attributes: {
        contextExtensions: {},
        request: {
          time: undefined,
          http: {
            id: '1234567890',
            method: 'GET',
            path: '/v1/things/42?expand=1',
            host: 'api.example.com',
            scheme: 'https',
            query: '',
            fragment: '',
            size: 0,
            protocol: 'HTTP/1.1',
            body: '',
            rawBody: Buffer.alloc(0),
            headerMap: undefined,
            headers: {
              ':authority': 'api.example.com',
              ':method': 'GET',
              ':path': '/v1/things/42?expand=1',
              'x-api-key': key,
              'user-agent': 'bench',
            },
          },
        },
      },
    } as CheckRequest).finish(),
  );
}

/** A framed RateLimitRequest: domain `bench`, one descriptor [(descriptorKey, value)], hits_addend unset (1). */
export function rlsBody(descriptorKey: string, value: string): Buffer {
  return frame(
    RateLimitRequest.encode({
      domain: RLS_DOMAIN,
      hitsAddend: 0,
      descriptors: [{ entries: [{ key: descriptorKey, value }] }],
    }).finish(),
  );
}

/** `count` descriptor values of one byte length (the rotation rewrites them in place): user-000000… */
export function rlsValues(prefix: string, count: number): string[] {
  const width = Math.max(6, String(count - 1).length);
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`);
}
