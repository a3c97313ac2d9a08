// End to end through REAL nginx running the shipped nginx/tollgate.conf (addresses rewritten only):
// client → nginx auth_request → Tollgate /check (real app, Postgres, Redis) → upstream app.

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX_DIR, nginxTest, startNginx, type TestNginx } from '../support/nginx.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';

/** Stops whatever was started, even when a later start failed. */
async function stopAll(...parts: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  for (const part of parts) await part?.stop().catch(() => undefined);
}

describe('shipped nginx config', () => {
  it('passes `nginx -t` as shipped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-nginx-t-'));
    try {
      for (const file of ['nginx.conf', 'tollgate.conf', 'tollgate-upstream-headers.conf'])
        copyFileSync(join(NGINX_DIR, file), join(dir, file));
      const { code, output } = nginxTest(join(dir, 'nginx.conf'), dir);
      expect(output).toContain('test is successful');
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nginx → Tollgate (demo policy) → app', () => {
  let tollgate: TestTollgate | undefined;
  let upstream: TestUpstream | undefined;
  let nginx: TestNginx | undefined;
  let base = '';

  beforeAll(async () => {
    try {
      tollgate = await startTollgate({
        accounts: [
          { label: 'limited', tier: 'free' },
          { label: 'free', tier: 'free' },
          { label: 'pro', tier: 'pro' },
        ],
      });
      upstream = await startUpstream();
      nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: upstream.port });
      base = `http://127.0.0.1:${nginx.port}`;
    } catch (err) {
      await stopAll(nginx, upstream, tollgate);
      throw err;
    }
  });
  afterAll(() => stopAll(nginx, upstream, tollgate));

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

  it('allows 10 calls a minute on free, then answers 429 with Retry-After and RateLimit headers', async () => {
    const key = tollgate!.keys.limited!;
    for (let i = 1; i <= 10; i++) {
      const res = await get('/v1/items', { 'x-api-key': key });
      expect(res.status, `call ${i}`).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(10 - i));
      expect(res.headers.get('ratelimit-policy')).toContain('"per-minute";q=10;w=60');
    }
    const denied = await get('/v1/items', { 'x-api-key': key });
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(denied.headers.get('ratelimit')).toMatch(/"per-minute";r=0;t=\d+/);
    expect(denied.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(denied.headers.get('content-type')).toBe('application/problem+json');
    const body = (await denied.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      title: 'Rate limit exceeded',
      retry_after: Number(denied.headers.get('retry-after')),
    });
    expect(body['detail']).toContain('per-minute');
  });

  it('answers 401 with WWW-Authenticate for a bad key and for no key', async () => {
    const before = upstream!.requests.length;
    const bad = await get('/v1/items', { 'x-api-key': 'tg_live_not-a-real-key' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await bad.json()).toMatchObject({ status: 401, code: 'invalid_api_key' });
    const none = await get('/v1/items');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'missing_api_key' });
    expect(upstream!.requests.length).toBe(before);
  });

  it('answers 403 for /v1/export on free (feature gate)', async () => {
    const res = await get('/v1/export/x', { 'x-api-key': tollgate!.keys.free! });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ status: 403, code: 'endpoint_not_in_plan' });
  });

  it('tells the app who is calling, never the key, never a spoofed identity', async () => {
    const res = await get('/v1/items?page=2', {
      'x-api-key': tollgate!.keys.free!,
      'x-tollgate-account': 'acct_spoofed',
      'x-tollgate-tier': 'enterprise',
    });
    expect(res.status).toBe(200);
    const seen = upstream!.last();
    expect(seen.url).toBe('/v1/items?page=2');
    expect(seen.headers['x-tollgate-account']).toBe(tollgate!.accounts.free);
    expect(seen.headers['x-tollgate-key-id']).toBe(tollgate!.keyIds.free);
    expect(seen.headers['x-tollgate-tier']).toBe('free');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['authorization']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain('spoofed');
  });

  it('passes a POST body to the app (Bearer key stripped) and counts chat at its cost', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] });
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${tollgate!.keys.pro}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    const seen = upstream!.last();
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe(body);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(seen.headers['authorization']).toBeUndefined();
    expect(seen.headers['x-tollgate-tier']).toBe('pro');
    expect(seen.headers['x-tollgate-endpoint']).toBe('chat');
    expect(res.headers.get('ratelimit-policy')).toContain('"chat-minute"');
  });
});

describe('nginx → Tollgate (small quota) → app', () => {
  const policyYaml = `
tiers:
  tiny:
    limits:
      - { name: per-minute, algorithm: fixed_window, limit: 1000, window: 60s }
    quota: { requests: 3, period: month }
    upgrade_url: https://example.com/upgrade
`;
  let tollgate: TestTollgate | undefined;
  let upstream: TestUpstream | undefined;
  let nginx: TestNginx | undefined;

  beforeAll(async () => {
    try {
      tollgate = await startTollgate({ policyYaml, accounts: [{ label: 'tiny', tier: 'tiny' }] });
      upstream = await startUpstream();
      nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: upstream.port });
    } catch (err) {
      await stopAll(nginx, upstream, tollgate);
      throw err;
    }
  });
  afterAll(() => stopAll(nginx, upstream, tollgate));

  it('answers 402 past the monthly quota with Retry-After to the period end and the upgrade link', async () => {
    const call = () =>
      fetch(`http://127.0.0.1:${nginx!.port}/v1/items`, { headers: { 'x-api-key': tollgate!.keys.tiny! } });
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    const res = await call();
    expect(res.status).toBe(402);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(31 * 86_400);
    expect(res.headers.get('ratelimit')).toMatch(/"monthly-quota";r=0;t=\d+/);
    expect(await res.json()).toMatchObject({
      status: 402,
      code: 'quota_exceeded',
      upgrade_url: 'https://example.com/upgrade',
      retry_after: retryAfter,
    });
    expect(upstream!.requests.length).toBe(3);
  });
});

describe('nginx with the sidecar down', () => {
  let upstream: TestUpstream | undefined;
  let nginx: TestNginx | undefined;

  afterAll(() => stopAll(nginx, upstream));

  it('fails closed with 503 problem+json and never reaches the app', async () => {
    upstream = await startUpstream();
    // A port nothing listens on: the upstream we just closed.
    const dead = await startUpstream();
    const deadPort = dead.port;
    await dead.stop();
    nginx = await startNginx({ sidecarPort: deadPort, appPort: upstream.port });
    const res = await fetch(`http://127.0.0.1:${nginx.port}/v1/items`, {
      headers: { 'x-api-key': 'tg_live_whatever' },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ status: 503, code: 'unavailable' });
    expect(upstream.requests.length).toBe(0);
  });
});
