// The first start of a new user: every start-up failure is one line naming the variable or resource
// and what to do (exit 2 = change the configuration, 1 = something is down); the embedded demo binds
// loopback only; /readyz says why it is not ready; `serve` needs ADMIN_TOKEN with DATABASE_URL.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres } from '../support/databases.js';
import { freePort } from '../support/free-port.js';
import { runCli, startServer } from '../support/processes.js';

const TOKEN = 'test-admin-token-0123456789';

/** Runs `node dist/main.js` to its exit; the test fails loudly if it starts instead. */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; line: string }> {
  const server = startServer({ LOG_LEVEL: 'silent', ...env });
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
  let stderr = '';
  server.child.stderr!.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => server.child.on('exit', resolve));
  clearTimeout(timer);
  const lines = stderr.trimEnd().split('\n');
  expect(lines, `expected one line on stderr, got:\n${stderr}`).toHaveLength(1);
  return { code, line: lines[0]! };
}

describe('start-up failures: one line, the variable, what to do', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let ports: Record<string, string>;

  beforeAll(async () => {
    db = await freshPostgres();
    ports = {
      HTTP_PORT: String(await freePort()),
      GRPC_PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
    };
  });
  afterAll(async () => {
    await db?.sql.close();
    await db?.drop();
  });

  it('port in use: names the variable (exit 2)', async () => {
    const busy: NetServer = createServer();
    const port = await new Promise<number>((resolve) =>
      busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
    );
    try {
      const result = await failedStart({
        ...ports,
        ADMIN_PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        ADMIN_TOKEN: TOKEN,
      });
      expect(result).toEqual({
        code: 2,
        line: `tollgate: ADMIN_PORT ${port} is already in use on 127.0.0.1: stop the other process or set ADMIN_PORT to a free port`,
      });
    } finally {
      busy.close();
    }
  });

  it('DATABASE_URL unreachable: the URL without its password (exit 1)', async () => {
    const dead = await freePort();
    const result = await failedStart({
      ...ports,
      DATABASE_URL: `postgres://tollgate:s3cret-pw@127.0.0.1:${dead}/tollgate`,
      ADMIN_TOKEN: TOKEN,
    });
    expect(result.code).toBe(1);
    expect(result.line).toContain(
      `cannot reach Postgres at postgres://tollgate:***@127.0.0.1:${dead}/tollgate`,
    );
    expect(result.line).toContain('(DATABASE_URL): connect ECONNREFUSED');
    expect(result.line).toContain('Start Postgres or fix DATABASE_URL');
    expect(result.line).not.toContain('s3cret-pw');
  });

  it('REDIS_URL unreachable: the URL without its password and the failure mode that would start (exit 1)', async () => {
    const dead = await freePort();
    const result = await failedStart({
      ...ports,
      DATABASE_URL: db.url,
      ADMIN_TOKEN: TOKEN,
      REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${dead}`,
    });
    expect(result.code).toBe(1);
    expect(result.line).toContain(
      `cannot reach Redis at redis://:***@127.0.0.1:${dead} (REDIS_URL): connect ECONNREFUSED`,
    );
    expect(result.line).toContain('FAILURE_MODE=open or local would start degraded');
    expect(result.line).not.toContain('s3cret-pw');
  });

  it('HOST=localhost:8080 and a HOST that is not this machine (exit 2)', async () => {
    const withPort = await failedStart({
      ...ports,
      HOST: 'localhost:8080',
      DATABASE_URL: db.url,
      ADMIN_TOKEN: TOKEN,
    });
    expect(withPort).toEqual({
      code: 2,
      line: 'tollgate: invalid configuration: HOST: expected a host name or IP address to bind, like 127.0.0.1 or 0.0.0.0, but got "localhost:8080" (the ports are HTTP_PORT, GRPC_PORT and ADMIN_PORT)',
    });
    const unknown = await failedStart({
      ...ports,
      HOST: 'no-such-host.invalid',
      DATABASE_URL: db.url,
      ADMIN_TOKEN: TOKEN,
    });
    expect(unknown).toEqual({
      code: 2,
      line: 'tollgate: HOST "no-such-host.invalid" is not an address of this machine: set HOST to a local address or name, like 127.0.0.1 or 0.0.0.0',
    });
  });

  it('serve requires ADMIN_TOKEN with DATABASE_URL; migrate does not', async () => {
    const result = await failedStart({ ...ports, DATABASE_URL: db.url });
    expect(result).toEqual({
      code: 2,
      line: 'tollgate: invalid configuration: ADMIN_TOKEN: is required with DATABASE_URL (one token shared by every replica, at least 16 characters)',
    });
    const viaCli = await runCli(['serve'], { ...ports, DATABASE_URL: db.url, LOG_LEVEL: 'silent' });
    expect([viaCli.code, viaCli.stderr.trim()]).toEqual([2, result.line]);
    const json = await runCli(['serve', '--json'], { ...ports, DATABASE_URL: db.url, LOG_LEVEL: 'silent' });
    expect([json.code, JSON.parse(json.stderr)]).toEqual([
      2,
      {
        error: {
          code: 'configuration',
          message: result.line.replace('tollgate: ', ''),
          field: 'ADMIN_TOKEN',
        },
      },
    ]);
    const migrate = await runCli(['migrate'], { DATABASE_URL: db.url });
    expect([migrate.code, migrate.stdout.trim()]).toEqual([0, 'database is up to date']);
  });

  it('/readyz lists why it is not ready: no policy stored yet', async () => {
    const server = startServer({
      ...ports,
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
    });
    try {
      await server.waitFor(/tollgate listening/);
      const response = await fetch(`http://127.0.0.1:${ports.HTTP_PORT}/readyz`);
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
      expect(await response.json()).toEqual({
        ready: false,
        reasons: [
          'no policy stored: apply one with `tollgate apply <policy.yaml>`, PUT /admin/policy or POLICY_FILE',
        ],
      });
    } finally {
      await server.stop();
    }
  });
});

describe('embedded demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bind-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('binds 127.0.0.1 unless HOST is set, and is ready with the demo policy', async () => {
    const httpPort = await freePort();
    const server = startServer({
      DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      GRPC_PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    });
    try {
      const out = await server.waitFor(/"msg":"tollgate listening"/, 60_000);
      expect(out).toContain('"host":"127.0.0.1"');
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { ready: true, reasons: [] }]);
      // From another address of this machine (when it has one), the port is closed.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
      if (external)
        await expect(fetch(`http://${external}:${httpPort}/readyz`)).rejects.toThrow(/fetch failed/);
    } finally {
      await server.stop();
    }
  }, 90_000);
});
