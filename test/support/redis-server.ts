// Own redis-server processes for tests that pause, kill or cluster Redis — never the shared one on 6379.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGSTOP: the connection stays open, nothing answers (a hung Redis). */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Starts a new process on the same port (after kill) and waits until it answers PING. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** True when nothing listens on `port` on 127.0.0.1. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port in [from, to) whose companions (+offsets) are free too (cluster bus = port + 10000). */
export async function freePort(from = 20_000, to = 29_000, offsets: number[] = [0]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    const checks = await Promise.all(offsets.map((o) => portIsFree(port + o)));
    if (checks.every(Boolean)) return port;
  }
  throw new Error(`no free port in ${from}..${to}`);
}

export function spawnRedis(port: number, dir: string, extra: string[] = []): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--protected-mode',
      'no',
      ...extra,
    ],
    {
      stdio: 'ignore',
    },
  );
  child.on('error', (err) => {
    throw new Error(`redis-server could not start (is it installed?): ${err.message}`);
  });
  return child;
}

/** Resolves once redis on `port` answers PING (or throws after `timeoutMs`). */
export async function waitForRedis(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 500,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A standalone redis-server on a free port, in a temp dir; stop() kills it and removes the dir.
 * `extra`: more redis-server arguments (e.g. --rename-command).
 */
export async function startRedisServer(extra: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tg-redis-'));
  let child = spawnRedis(port, dir, extra);
  await waitForRedis(port);
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async kill() {
      signal('SIGKILL');
      await exited(child);
    },
    async restart() {
      child = spawnRedis(port, dir, extra);
      await waitForRedis(port);
    },
    async stop() {
      signal('SIGCONT');
      signal('SIGKILL');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
