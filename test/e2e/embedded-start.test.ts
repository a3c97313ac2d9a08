// `npm start` on a fresh clone: embedded PGlite + in-process counters, demo policy, demo keys, working /check.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServer, type Server } from '../support/processes.js';

describe('embedded start (no DATABASE_URL, no REDIS_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-embedded-'));
  const env = {
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    HTTP_PORT: '18480',
    GRPC_PORT: '18481',
    ADMIN_PORT: '18482',
    LOG_LEVEL: 'warn',
  };
  let server: Server;
  let banner: string;

  beforeAll(async () => {
    server = startServer(env);
    banner = await server.waitFor(/Admin token: \S+/, 60_000);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const keyOf = (tier: string) => new RegExp(`^\\s+${tier}\\s+(tg_live_\\w+)$`, 'm').exec(banner)?.[1];

  it('prints one demo key per tier and the admin token', () => {
    expect(keyOf('free')).toMatch(/^tg_live_/);
    expect(keyOf('pro')).toMatch(/^tg_live_/);
    expect(keyOf('enterprise')).toMatch(/^tg_live_/);
    expect(banner).toMatch(/curl -i -H "x-api-key: tg_live_\w+"/);
    expect(banner).toContain('Console: http://127.0.0.1:18482/console');
  });

  it('answers the README curl: allowed chat call with rate-limit and identity headers', async () => {
    const response = await fetch('http://127.0.0.1:18480/check', {
      headers: {
        'x-api-key': keyOf('free')!,
        'x-original-uri': '/v1/chat/completions',
        'x-original-method': 'POST',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('x-tollgate-tier')).toBe('free');
    expect(response.headers.get('ratelimit-policy')).toContain('"chat-minute";q=5;w=60');
  });

  it('feature gate and bad key through /check', async () => {
    const gated = await fetch('http://127.0.0.1:18480/check', {
      headers: {
        'x-api-key': keyOf('free')!,
        'x-original-uri': '/v1/export/all',
        'x-original-method': 'GET',
      },
    });
    expect([
      gated.status,
      gated.headers.get('x-tollgate-status'),
      gated.headers.get('x-tollgate-code'),
    ]).toEqual([403, '403', 'endpoint_not_in_plan']);
    const bad = await fetch('http://127.0.0.1:18480/check', {
      headers: { 'x-api-key': 'tg_live_nope', 'x-original-uri': '/v1/x', 'x-original-method': 'GET' },
    });
    expect(bad.status).toBe(401);
  });

  it('a CLI command refuses to touch the data directory the running server owns', async () => {
    const result = await runCli(['accounts', 'create', '--name', 'x', '--tier', 'free'], {
      DATA_DIR: dataDir,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/DATA_DIR: .* is held by a running Tollgate \(pid \d+\)/);
  });
});
