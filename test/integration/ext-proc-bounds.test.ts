// ext_proc streams are bounded whatever Envoy or the upstream sends, on both gRPC servers: a stream
// that never ends is ended and settled at its reservation after its time bound; a body line that
// never ends is dropped as it streams, and the usage after it is still read; an oversized message
// is refused. The settler here records what it is asked (the settle itself is tested end to end).

import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReservationSettler } from '../../src/metering/reservation-settler.js';
import { createExtProc } from '../../src/transports/grpc/ext-proc.js';
import type { GrpcListener } from '../../src/transports/grpc/grpc-listener.js';
import { MAX_MESSAGE_BYTES } from '../../src/transports/grpc/grpc-server.js';
import { extProcClient, headerMap } from '../support/ext-proc-client.js';
import { GRPC_SERVERS, NO_CHECK, startGrpcListener } from '../support/grpc-servers.js';

const MAX_STREAM_MS = 1500;

describe.each(GRPC_SERVERS)('ext_proc bounds (%s server)', (kind) => {
  const settles: { id: string; units: number | null }[] = [];
  const settler: ReservationSettler = {
    async settle(id, units) {
      settles.push({ id, units });
      return { outcome: 'settled', reserved: 100, units: units ?? 100 };
    },
  };
  let listener: GrpcListener;
  let client: ReturnType<typeof extProcClient>;

  beforeAll(async () => {
    const extProc = createExtProc({ settler, maxStreamMs: MAX_STREAM_MS });
    const started = await startGrpcListener(kind, { checkAccess: NO_CHECK, extProc });
    listener = started.listener;
    client = extProcClient(started.port);
  });
  afterAll(async () => {
    client?.close();
    await listener?.close(100);
  });

  const settledOf = async (id: string) => {
    await expect.poll(() => settles.some((s) => s.id === id)).toBe(true);
    return settles.find((s) => s.id === id)!.units;
  };

  function open(id: string) {
    const call = client.open();
    call.send({
      request_headers: { headers: headerMap({ 'x-tollgate-reservation': id }) },
      observability_mode: true,
    });
    call.send({
      response_headers: { headers: headerMap({ ':status': '200', 'content-type': 'text/event-stream' }) },
      observability_mode: true,
    });
    return call;
  }

  it('a stream that never ends is ended after its bound and settled at the reservation', async () => {
    const started = Date.now();
    const call = open(`never-ends-${kind}`);
    call.send({ response_body: { body: Buffer.from('data: {"choices":[]}\n\n') }, observability_mode: true });
    expect(await call.closed).toBe(GrpcStatus.OK);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(MAX_STREAM_MS - 20);
    expect(took).toBeLessThan(MAX_STREAM_MS + 2000);
    expect(await settledOf(`never-ends-${kind}`)).toBeNull();
  });

  it('a 16 MiB line without an end is dropped as it streams; the usage event after it is read', async () => {
    const call = open(`long-line-${kind}`);
    const piece = Buffer.alloc(256 * 1024, 'x');
    for (let i = 0; i < 64; i++) call.send({ response_body: { body: piece }, observability_mode: true });
    const last = Buffer.from('\n\ndata: {"usage":{"total_tokens":42}}\n\ndata: [DONE]\n\n');
    call.send({ response_body: { body: last, end_of_stream: true }, observability_mode: true });
    expect(await call.closed).toBe(GrpcStatus.OK);
    expect(await settledOf(`long-line-${kind}`)).toBe(42);
  });

  it('a message over the size limit is refused RESOURCE_EXHAUSTED and settled at the reservation', async () => {
    const call = open(`oversized-${kind}`);
    const body = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 'y');
    call.send({ response_body: { body }, observability_mode: true });
    expect(await call.closed).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(await settledOf(`oversized-${kind}`)).toBeNull();
  });
});
