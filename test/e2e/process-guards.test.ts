// Defence in depth, on the real server process: an unhandled rejection is logged with context and the
// replica keeps serving; an uncaught exception is logged, readiness fails, the process drains and
// exits non-zero (so the orchestrator restarts it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { ROOT, startServer, type Server } from '../support/processes.js';
import { prepareDatabase, REDIS_URL, type PreparedDatabase } from '../support/tollgate.js';

describe('process-wide guards', () => {
  let db: PreparedDatabase;
  const servers: Server[] = [];

  beforeAll(async () => {
    db = await prepareDatabase({ accounts: [{ label: 'ent', tier: 'enterprise' }] });
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await db?.drop();
  });

  async function start(trigger: string) {
    const httpPort = await freePort();
    const server = startServer(
      {
        DATABASE_URL: db.url,
        REDIS_URL,
        HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
        GRPC_PORT: String(await freePort()),
        ADMIN_PORT: String(await freePort()),
        ADMIN_TOKEN: 'test-admin-token-0123456789',
        LOG_LEVEL: 'info',
        TRIGGER: trigger,
      },
      `${ROOT}test/support/guarded-process.mjs`,
    );
    servers.push(server);
    await server.waitFor(/tollgate listening/);
    return { server, base: `http://127.0.0.1:${httpPort}` };
  }

  it('an unhandled rejection is logged with its context and the replica keeps serving', async () => {
    const { server, base } = await start('rejection');
    await server.waitFor(/still alive after the rejection/);
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('unhandled promise rejection'));
    expect(line, server.output()).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      level: 50,
      err: { message: 'test: a rejection nobody handles' },
    });
    expect(JSON.parse(line!).err.stack).toMatch(/guarded-process\.mjs/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const res = await fetch(`${base}/check`, {
      headers: { 'x-api-key': db.keys['ent']!, 'x-original-uri': '/v1/chat/x', 'x-original-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(await server.stop()).toBe(0);
  });

  it('an uncaught exception: logged, readiness fails, drained, exit code 1', async () => {
    const { server, base } = await start('exception');
    const exited = new Promise<number | null>((resolve) =>
      server.child.once('exit', (code) => resolve(code)),
    );
    let notReady = false;
    while (!notReady && server.child.exitCode === null) {
      const status = await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 503) notReady = true;
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(notReady).toBe(true); // seen during the drain, before the listeners closed
    expect(await exited).toBe(1);
    const fatal = server
      .output()
      .split('\n')
      .find((l) => l.includes('uncaught exception'));
    expect(JSON.parse(fatal!)).toMatchObject({
      level: 60,
      origin: 'uncaughtException',
      err: { message: 'test: an exception nobody catches' },
    });
    expect(server.output()).toMatch(/draining: readiness is NOT_SERVING/);
  }, 30_000);
});
