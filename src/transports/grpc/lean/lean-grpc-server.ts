// The gRPC listener on node:http2 (GRPC_SERVER=lean): ext_authz Check, RLS ShouldRateLimit and
// grpc.health.v1 on GRPC_PORT, through the same per-method calls as the grpc-js server (grpc-server.ts).

import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { MAX_MESSAGE_BYTES, type GrpcServerDeps } from '../grpc-server.js';
import type { GrpcListener } from '../grpc-call.js';
import { statusHeaders } from './grpc-wire.js';
import { LeanCall } from './lean-call.js';
import { leanMethods, type LeanMethod } from './lean-methods.js';
import { OpenCalls } from './open-calls.js';

/** Same figures as the grpc-js server's options: server ping every 30 s, dead after 10 s without its ack. */
const KEEPALIVE_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
const MAX_CONCURRENT_STREAMS = 1_000;
/** Errors on a stream or connection end that stream or connection; node:http2 has already reset it. */
const ignore = () => {};

export function createLeanGrpcServer(deps: GrpcServerDeps): GrpcListener {
  const methods = leanMethods(deps);
  const server = createServer({
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
    // Streams beyond the advertised limit are refused by node:http2 itself (RST_STREAM REFUSED_STREAM).
    maxSessionRejectedStreams: 1_000,
  });
  const sessions = new Set<ServerHttp2Session>();
  const calls = new OpenCalls();
  server.on('session', (session) => trackSession(session, sessions));
  server.on('sessionError', ignore);
  server.on('stream', (stream, headers) => {
    stream.on('error', ignore);
    try {
      serve(stream, headers, methods, calls);
    } catch (err) {
      deps.logger?.error({ err: { type: (err as Error)?.name } }, 'grpc: unexpected error on a stream');
      stream.destroy();
    }
  });
  return {
    listen: (host, port) => listen(server, host, port),
    close: (forceAfterMs) => close(server, sessions, calls, forceAfterMs),
  };
}

/** Checks what every gRPC request must carry, then hands the stream to its method. */
function serve(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  methods: Map<string, LeanMethod>,
  calls: OpenCalls,
): void {
  const refuse = (httpStatus: number, code: number, details: string) => {
    const answer = statusHeaders(code, details, true);
    answer[':status'] = httpStatus;
    stream.respond(answer, { endStream: true });
    if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
  };
  if (headers[':method'] !== 'POST') {
    refuse(405, GrpcStatus.UNIMPLEMENTED, 'gRPC calls are POST');
    return;
  }
  const contentType = headers['content-type'];
  if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
    refuse(415, GrpcStatus.UNKNOWN, 'content-type must be application/grpc');
    return;
  }
  const path = headers[':path'] ?? '';
  const method = methods.get(path);
  if (!method) {
    refuse(200, GrpcStatus.UNIMPLEMENTED, `Unknown method ${path.slice(0, 200)}`);
    return;
  }
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    refuse(200, GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${String(encoding).slice(0, 50)} is not supported`);
    return;
  }
  new LeanCall(stream, method, MAX_MESSAGE_BYTES, calls).start(headers);
}

/** Keepalive: a ping every KEEPALIVE_MS; no ack within KEEPALIVE_TIMEOUT_MS drops the connection. */
function trackSession(session: ServerHttp2Session, sessions: Set<ServerHttp2Session>): void {
  sessions.add(session);
  session.on('error', ignore);
  const keepalive = setInterval(() => {
    const dead = setTimeout(() => session.destroy(), KEEPALIVE_TIMEOUT_MS).unref();
    try {
      if (!session.ping(() => clearTimeout(dead))) clearTimeout(dead);
    } catch {
      clearTimeout(dead);
    }
  }, KEEPALIVE_MS).unref();
  session.on('close', () => {
    clearInterval(keepalive);
    sessions.delete(session);
  });
}

function listen(server: Http2Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting, sends GOAWAY on every connection and lets in-flight calls finish; after
 * `forceAfterMs` the calls still open are reset (RST_STREAM CANCEL) and the connections dropped.
 */
function close(
  server: Http2Server,
  sessions: Set<ServerHttp2Session>,
  calls: OpenCalls,
  forceAfterMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      calls.cancelAll();
      setImmediate(() => {
        for (const session of sessions) session.destroy();
      });
    }, forceAfterMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    for (const session of sessions) session.close();
  });
}
