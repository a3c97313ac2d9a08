// gRPC over HTTP/2 as both servers (lean and grpc-js) must speak it, seen by a grpc-js client and, for
// frames grpc-js cannot produce, by a raw node:http2 client: deadlines, trailers-only errors, unknown
// methods, size limits, compression, and draining on shutdown.

import { credentials, Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { connect, constants, type IncomingHttpHeaders } from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/access/decision.js';
import { StoreUnavailable } from '../../src/errors.js';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import {
  type DeepPartial,
  ProcessingRequest,
  ProcessingResponse,
} from '../../src/generated/envoy/service/ext_proc/v3/external_processor.js';
import { createExtProc } from '../../src/transports/grpc/ext-proc.js';
import type { GrpcListener } from '../../src/transports/grpc/grpc-listener.js';
import { GRPC_SERVERS, startGrpcListener } from '../support/grpc-servers.js';

const CHECK = '/envoy.service.auth.v3.Authorization/Check';
const DENY: Decision = {
  allowed: false,
  code: 'missing_api_key',
  status: 401,
  detail: 'no key',
  policies: [],
  violated: [],
  shadowDenied: [],
};
const checkBytes = Buffer.from(
  CheckRequest.encode(
    CheckRequest.fromPartial({ attributes: { request: { http: { method: 'GET', path: '/v1/items' } } } }),
  ).finish(),
);

/** Length-prefixed gRPC message; `declared`/`flag` let a test lie about it. */
const frame = (message: Buffer, declared = message.length, flag = 0) => {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(declared, 1);
  return Buffer.concat([prefix, message]);
};

interface RawAnswer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
  data: Buffer;
  rstCode: number;
  goaway: boolean;
}

/** One request on its own HTTP/2 connection; `end: false` keeps the request side open. */
function raw(
  port: number,
  body: Buffer,
  headers: Record<string, string> = {},
  end = true,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    const stream = session.request({
      ':method': 'POST',
      ':path': CHECK,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const answer: RawAnswer = { headers: {}, trailers: undefined, data: Buffer.alloc(0), rstCode: 0, goaway };
    stream.on('response', (h) => (answer.headers = h));
    stream.on('trailers', (h) => (answer.trailers = h));
    stream.on('data', (c: Buffer) => (answer.data = Buffer.concat([answer.data, c])));
    stream.on('error', () => {});
    stream.on('close', () => {
      answer.rstCode = stream.rstCode ?? 0;
      answer.goaway = goaway;
      session.close();
      resolve(answer);
    });
    if (end) stream.end(body);
    else stream.write(body);
  });
}

function grpcCheck(client: AuthorizationClient, deadlineMs = 10_000): Promise<CheckResponse> {
  return new Promise((resolve, reject) =>
    client.check(
      CheckRequest.fromPartial({}),
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected the call to fail'),
    (err: ServiceError) => err,
  );

describe.each(GRPC_SERVERS)('gRPC protocol (%s server)', (kind) => {
  let decide: () => Promise<Decision> = async () => DENY;
  let listener: GrpcListener;
  let port: number;
  let client: AuthorizationClient;

  beforeAll(async () => {
    ({ listener, port } = await startGrpcListener(kind, {
      checkAccess: async () => decide(),
    }));
    client = new AuthorizationClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterEach(() => {
    decide = async () => DENY;
  });
  afterAll(async () => {
    client?.close();
    await listener?.close(0);
  });

  it('answers a framed Check: headers, one message, then grpc-status 0 in trailers', async () => {
    const answer = await raw(port, frame(checkBytes));
    expect(answer.headers[':status']).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/grpc/);
    expect(answer.trailers?.['grpc-status']).toBe('0');
    expect(answer.data.readUInt32BE(1)).toBe(answer.data.length - 5);
  });

  it('a failed call is trailers-only: grpc-status and grpc-message in the one HEADERS frame, no data', async () => {
    decide = () => Promise.reject(new StoreUnavailable('redis', 'down'));
    const answer = await raw(port, frame(checkBytes));
    expect(answer.headers[':status']).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/grpc/);
    expect(answer.headers['grpc-status']).toBe(String(GrpcStatus.UNAVAILABLE));
    expect(decodeURIComponent(String(answer.headers['grpc-message']))).toBe('redis unavailable');
    expect(answer.trailers).toBeUndefined();
    expect(answer.data.length).toBe(0);
    const err = await failure(grpcCheck(client));
    expect([err.code, err.details]).toEqual([GrpcStatus.UNAVAILABLE, 'redis unavailable']);
  });

  it('enforces grpc-timeout on the server: DEADLINE_EXCEEDED, trailers-only, when the decision is late', async () => {
    decide = () => new Promise((resolve) => setTimeout(() => resolve(DENY), 1_500));
    const started = Date.now();
    const answer = await raw(port, frame(checkBytes), { 'grpc-timeout': '100m' });
    expect(answer.headers['grpc-status']).toBe(String(GrpcStatus.DEADLINE_EXCEEDED));
    expect(answer.data.length).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_400);
    const err = await failure(grpcCheck(client, 100));
    expect(err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
  });

  it('answers UNIMPLEMENTED for an unknown method (grpc-js client) and an unknown service (raw)', async () => {
    const err = await failure(
      new Promise((resolve, reject) =>
        (client as Client).makeUnaryRequest(
          '/envoy.service.auth.v3.Authorization/Nope',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      ),
    );
    expect(err.code).toBe(GrpcStatus.UNIMPLEMENTED);
    const answer = await raw(port, frame(checkBytes), { ':path': '/no.such.Service/Check' });
    expect(answer.headers['grpc-status']).toBe(String(GrpcStatus.UNIMPLEMENTED));
  });

  it('refuses a message over 4 MiB with RESOURCE_EXHAUSTED (grpc-js client)', async () => {
    const big = CheckRequest.fromPartial({
      attributes: { request: { http: { headers: { 'x-big': 'a'.repeat(5 * 1024 * 1024) } } } },
    });
    const err = await failure(
      new Promise((resolve, reject) => client.check(big, (e, r) => (e ? reject(e) : resolve(r)))),
    );
    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('refuses a compressed frame in an encoding it does not serve, saying which it does', async () => {
    const brotli = await raw(port, frame(checkBytes, checkBytes.length, 1), { 'grpc-encoding': 'br' });
    expect(brotli.headers['grpc-status']).toBe(String(GrpcStatus.UNIMPLEMENTED));
  });

  it('on close: GOAWAY, calls in flight finish, new calls are refused, and close waits for them', async () => {
    let started = 0;
    decide = () => {
      started++;
      return new Promise((resolve) => setTimeout(() => resolve(DENY), 400));
    };
    const calls = Array.from({ length: 5 }, () => grpcCheck(client));
    const rawCall = raw(port, frame(checkBytes));
    await until(() => started === 6);
    const closed = listener.close(5_000);
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status?.code)).toEqual(Array(5).fill(GrpcStatus.UNAUTHENTICATED));
    const rawAnswer = await await rawCall;
    expect(rawAnswer.trailers?.['grpc-status']).toBe('0');
    expect(rawAnswer.goaway).toBe(true);
    await closed;
    const late = await failure(grpcCheck(client, 2_000));
    expect(late.code).toBe(GrpcStatus.UNAVAILABLE);
    ({ listener, port } = await startGrpcListener(kind, { checkAccess: async () => decide() }));
    client.close();
    client = new AuthorizationClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  it('on close: calls still open after the bound are cut (RST_STREAM) and close resolves', async () => {
    decide = () => new Promise(() => {});
    const call = failure(grpcCheck(client));
    const rawCall = raw(port, frame(checkBytes));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await listener.close(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await call).code).not.toBe(GrpcStatus.OK);
    const answer = await rawCall;
    expect(answer.trailers?.['grpc-status']).toBeUndefined();
    if (kind === 'lean') expect(answer.rstCode).toBe(constants.NGHTTP2_CANCEL);
    ({ listener, port } = await startGrpcListener(kind, { checkAccess: async () => decide() }));
  });
});

describe('lean server: what grpc-js cannot send', () => {
  let listener: GrpcListener;
  let port: number;
  beforeAll(async () => {
    ({ listener, port } = await startGrpcListener('lean', { checkAccess: async () => DENY }));
  });
  afterAll(() => listener?.close(0));

  it('answers a declared length over the limit at once, without waiting for (or keeping) the bytes', async () => {
    const answer = await raw(port, frame(Buffer.alloc(100), 64 * 1024 * 1024), {}, false);
    expect(answer.headers['grpc-status']).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    expect(answer.headers['grpc-message']).toContain('larger than max');
  });

  it('refuses the compressed flag without grpc-encoding as INVALID_ARGUMENT, says it accepts identity, refuses a malformed grpc-timeout', async () => {
    const flagged = await raw(port, frame(checkBytes, checkBytes.length, 1));
    expect(flagged.headers['grpc-status']).toBe(String(GrpcStatus.INVALID_ARGUMENT));
    const brotli = await raw(port, frame(checkBytes, checkBytes.length, 1), { 'grpc-encoding': 'br' });
    expect(brotli.headers['grpc-accept-encoding']).toBe('identity');
    const timeout = await raw(port, frame(checkBytes), { 'grpc-timeout': 'soon' });
    expect(timeout.headers['grpc-status']).toBe(String(GrpcStatus.INVALID_ARGUMENT));
  });

  it('a truncated message, two messages, no message and non-protobuf bytes are INVALID_ARGUMENT, not a crash', async () => {
    for (const body of [
      frame(checkBytes, checkBytes.length + 10),
      Buffer.concat([frame(checkBytes), frame(checkBytes)]),
      Buffer.alloc(0),
      frame(Buffer.from([0xff, 0xff, 0xff])),
    ]) {
      const answer = await raw(port, body);
      expect(answer.headers['grpc-status'], body.toString('hex')).toBe(String(GrpcStatus.INVALID_ARGUMENT));
    }
    expect((await raw(port, frame(checkBytes))).trailers?.['grpc-status']).toBe('0');
  });

  it('sends no date header, on an answer with a message or a trailers-only one', async () => {
    const answered = await raw(port, frame(checkBytes));
    expect(answered.trailers?.['grpc-status']).toBe('0');
    const failed = await raw(port, frame(checkBytes), { 'grpc-timeout': 'soon' });
    expect(failed.headers['grpc-status']).toBe(String(GrpcStatus.INVALID_ARGUMENT));
    expect([answered.headers.date, failed.headers.date]).toEqual([undefined, undefined]);
  });

  it('grpc-message is percent-encoded', async () => {
    const answer = await raw(port, frame(checkBytes), { ':path': '/ü%/x' });
    expect(answer.headers['grpc-message']).toBe('Unknown method /%C3%BC%25/x');
  });
});

describe('lean server: a bidirectional call (ext_proc Process) framed as grpc-js never would', () => {
  const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
  const settled: (number | null)[] = [];
  let listener: GrpcListener;
  let port: number;
  beforeAll(async () => {
    const extProc = createExtProc({
      settler: {
        settle: async (_id, units) => {
          settled.push(units);
          return { outcome: 'settled', reserved: 9, units: units ?? 9 };
        },
      },
    });
    ({ listener, port } = await startGrpcListener('lean', { checkAccess: async () => DENY, extProc }));
  });
  afterAll(() => listener?.close(0));

  const message = (m: DeepPartial<ProcessingRequest>) =>
    frame(Buffer.from(ProcessingRequest.encode(ProcessingRequest.fromPartial(m)).finish()));
  const header = (key: string, value: string) => ({ key, rawValue: Buffer.from(value) });
  /** The answers in a DATA payload: each message's oneof case. */
  const answers = (data: Buffer) => {
    const cases: string[] = [];
    for (let at = 0; at < data.length; ) {
      const length = data.readUInt32BE(at + 1);
      const answer = ProcessingResponse.decode(data.subarray(at + 5, at + 5 + length));
      cases.push(Object.keys(answer).find((k) => (answer as Record<string, unknown>)[k] !== undefined)!);
      at += 5 + length;
    }
    return cases;
  };

  it('reads several messages in one write and a prefix split across writes, answering each in order', async () => {
    const all = Buffer.concat([
      message({ requestHeaders: { headers: { headers: [header('x-tollgate-reservation', 'r1')] } } }),
      message({ responseHeaders: { headers: { headers: [header('content-type', 'application/json')] } } }),
      message({ responseBody: { body: Buffer.from('{"usage":{"total_') } }),
      message({ responseBody: { body: Buffer.from('tokens":17}}'), endOfStream: true } }),
    ]);
    const session = connect(`http://127.0.0.1:${port}`);
    const stream = session.request({
      ':method': 'POST',
      ':path': PROCESS,
      'content-type': 'application/grpc',
    });
    let data = Buffer.alloc(0);
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('data', (c: Buffer) => (data = Buffer.concat([data, c])));
    stream.on('trailers', (t) => (trailers = t));
    // Two messages and 2 bytes of the third's prefix, then the rest a byte at a time at first.
    const cut = all.indexOf(message({ responseBody: { body: Buffer.from('{"usage":{"total_') } })) + 2;
    stream.write(all.subarray(0, cut));
    for (let at = cut; at < cut + 6; at++) stream.write(all.subarray(at, at + 1));
    stream.write(all.subarray(cut + 6));
    await new Promise((resolve) => stream.on('close', resolve));
    session.close();
    expect(answers(data)).toEqual(['requestHeaders', 'responseHeaders', 'responseBody', 'responseBody']);
    expect(trailers?.['grpc-status']).toBe('0');
    expect(settled).toEqual([17]);
  });

  it('a bad message or a stream cut mid-message is INVALID_ARGUMENT; the reservation settles at its amount', async () => {
    settled.length = 0;
    const start = message({
      requestHeaders: { headers: { headers: [header('x-tollgate-reservation', 'r2')] } },
    });
    const bad = await raw(port, Buffer.concat([start, frame(Buffer.from([0xff, 0xff, 0xff]))]), {
      ':path': PROCESS,
    });
    expect(bad.trailers?.['grpc-status'] ?? bad.headers['grpc-status']).toBe(
      String(GrpcStatus.INVALID_ARGUMENT),
    );
    const cut = await raw(port, Buffer.concat([start, frame(checkBytes, checkBytes.length + 10)]), {
      ':path': PROCESS,
    });
    expect(cut.trailers?.['grpc-status'] ?? cut.headers['grpc-status']).toBe(
      String(GrpcStatus.INVALID_ARGUMENT),
    );
    await until(() => settled.length === 2);
    expect(settled).toEqual([null, null]);
  });
});

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
