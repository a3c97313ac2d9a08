// ConnectionWatch on real sockets: a Redis reply left unread because this process was busy is not a
// stall; a peer that stays silent (a TCP server that reads and never answers) is, and a call is failed
// no earlier than the moment it was told to wait for (its deadline).

import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ConnectionWatch } from '../../src/counters/connection-watch.js';
import { StoreUnavailable } from '../../src/errors.js';
import { REDIS_URL } from '../support/tollgate.js';

let server: Server;
let socket: Socket;
let redis: Redis;
const waiting: Array<(line: string) => void> = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect().catch((err) => {
    throw new Error(`this test needs Redis at ${REDIS_URL}: ${String(err)}`);
  });
  server = createServer((s) => s.on('data', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  socket = connect(port, '127.0.0.1');
  socket.on('data', () => waiting.shift()?.(''));
  await new Promise((resolve) => socket.once('connect', resolve));
});

afterAll(async () => {
  redis?.disconnect();
  socket?.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** One request to the silent peer; never answered. */
function roundTrip(): Promise<string> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    socket.write('x');
  });
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // this process is saturated: the reply waits in the socket buffer
  }
}

test('a reply that waited unread while the event loop was busy for 6× the timeout is not a stall', async () => {
  const stalls: number[] = [];
  const watch = new ConnectionWatch(20, (ms) => stalls.push(ms));
  const replies = Array.from({ length: 5 }, () => watch.track(redis.ping()));
  busy(120);
  await Promise.all(replies);
  // And again with a timer already due when the loop frees up.
  const again = watch.track(redis.ping());
  await new Promise((r) => setTimeout(r, 0));
  busy(120);
  await again;
  expect(stalls).toEqual([]);
  watch.close();
});

test('a silent peer is a stall after the timeout; a call is failed no earlier than its deadline', async () => {
  const stalls: number[] = [];
  const watch = new ConnectionWatch(30, (ms) => stalls.push(ms));
  const start = performance.now();
  const early = watch.track(roundTrip()).catch((err: unknown) => ({ err, at: performance.now() - start }));
  const late = watch
    .track(roundTrip(), Date.now() + 120)
    .catch((err: unknown) => ({ err, at: performance.now() - start }));
  const [a, b] = (await Promise.all([early, late])) as Array<{ err: unknown; at: number }>;
  expect(a!.err).toBeInstanceOf(StoreUnavailable);
  expect(a!.at).toBeGreaterThanOrEqual(29);
  expect(a!.at).toBeLessThan(150); // generous: 2 shared cores
  expect(b!.at).toBeGreaterThanOrEqual(119);
  expect(stalls).toHaveLength(1);
  watch.close();
  waiting.length = 0;
});
