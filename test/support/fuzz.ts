// Seeded, repeatable fuzzing helpers shared by the hostile-input end-to-end tests.

import { connect as netConnect } from 'node:net';

/** mulberry32: small, seeded, repeatable. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}
export type Rng = ReturnType<typeof prng>;

/** Runs `run(0..items-1)` with at most `concurrency` in flight. */
export async function pool<T>(
  items: number,
  concurrency: number,
  run: (i: number) => Promise<T>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items) await run(next++);
    }),
  );
}

/** One raw HTTP/1.1 exchange on its own connection (bytes exactly as given); resolves with what came back. */
export function rawHttp(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    // Not end(): a client half-close makes node:http abort the request it has not answered yet.
    socket.write(bytes);
  });
}

/** The status of the first answer in a raw HTTP/1.1 exchange, or undefined when none came. */
export function statusOf(answer: string): number | undefined {
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1];
  return status === undefined ? undefined : Number(status);
}
