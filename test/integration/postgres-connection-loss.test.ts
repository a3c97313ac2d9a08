// Postgres connections cut away in the middle of transactions, again and again: every failure is an
// error the caller sees, never a crash. postgres.js 3.4.9 could write to a socket it had already
// dropped from a setImmediate, an uncaught TypeError that ended the process (porsager/postgres#1208);
// patches/postgres+3.4.9.patch guards it until a release does.

import { expect, test } from 'vitest';
import { ROOT, startServer } from '../support/processes.js';
import { POSTGRES_ADMIN_URL } from '../support/databases.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

test('a process whose Postgres connections are cut 40 times mid-transaction keeps running', async () => {
  const target = new URL(POSTGRES_ADMIN_URL);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const url = new URL(POSTGRES_ADMIN_URL);
  url.port = String(proxy.port);
  const child = startServer(
    { DATABASE_URL: url.toString() },
    `${ROOT}test/support/connection-loss-process.mjs`,
  );
  try {
    await child.waitFor(/alive [1-9]/);
    for (let i = 0; i < 40; i++) {
      await proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 20 + (i % 5) * 10));
      await proxy.restore();
      await new Promise((resolve) => setTimeout(resolve, 30 + (i % 7) * 10));
    }
    const seen = child.output().length;
    // Still alive and still committing after the last restore.
    await child.waitFor(
      new RegExp(`[\\s\\S]{${seen}}[\\s\\S]*alive \\d+ \\d+\\n[\\s\\S]*alive \\d+`),
      10_000,
    );
    expect(child.child.exitCode, child.output().slice(-2000)).toBeNull();
    const last = [...child.output().matchAll(/alive (\d+) (\d+)/g)].pop()!;
    expect(Number(last[1])).toBeGreaterThan(0);
  } finally {
    await child.stop();
    await proxy.close();
  }
}, 60_000);
