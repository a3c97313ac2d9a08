// Raw HTTP/2 gRPC calls for spot checks and warm-up passes (not for load): what a server answers,
// as "grpc-status·code" (CheckResponse.status.code, or RateLimitResponse.overall_code by name).

import http2 from 'node:http2';
import { CheckResponse } from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import {
  RateLimitResponse,
  RateLimitResponse_Code,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { CHECK_PATH, RLS_PATH } from './grpc-bodies.js';

type Decode = (message: Buffer) => string;

export const decodeCheck: Decode = (m) => String(CheckResponse.decode(m).status?.code ?? 0);
export const decodeRls: Decode = (m) =>
  RateLimitResponse_Code[RateLimitResponse.decode(m).overallCode] ?? '?';

export function call(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  decode: Decode,
): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let grpcStatus = '?';
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
    stream.on('error', () => {});
    stream.on('close', () => {
      const frame = Buffer.concat(chunks);
      resolve(`${grpcStatus}·${frame.length >= 5 ? decode(frame.subarray(5)) : 'none'}`);
    });
    stream.end(body);
  });
}

/**
 * Each body once over one HTTP/2 session, `concurrency` in flight; returns the answers counted
 * ("0·OK": 1000, …).
 */
export async function grpcMany(
  port: number,
  path: string,
  bodies: Buffer[],
  decode: Decode,
  concurrency = 16,
): Promise<Record<string, number>> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const counts: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const answer = await call(session, path, bodies[next++]!, decode);
        counts[answer] = (counts[answer] ?? 0) + 1;
      }
    }),
  );
  session.close();
  return counts;
}

/** One ext_authz Check: "grpc-status·CheckResponse.status.code" (0·0 allowed, 0·8 over the limit, 0·16 unknown key). */
export async function checkOnce(port: number, body: Buffer): Promise<string> {
  return Object.keys(await grpcMany(port, CHECK_PATH, [body], decodeCheck, 1))[0]!;
}

/** One RLS ShouldRateLimit: "grpc-status·overall_code" (0·OK, 0·OVER_LIMIT). */
export async function rlsOnce(port: number, body: Buffer): Promise<string> {
  return Object.keys(await grpcMany(port, RLS_PATH, [body], decodeRls, 1))[0]!;
}
