// End to end for Envoy's raw HTTP ext_authz mode: requests shaped as Envoy sends them
// (client method, /ext_authz + original path, no body) against the real app; plus the shipped
// envoy/*.yaml checked against the code's defaults (there is no Envoy binary in CI).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { ENVOY_HTTP_PREFIX } from '../../src/transports/http/envoy-http.js';
import { ROOT } from '../support/processes.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

describe('Envoy HTTP mode → /ext_authz/* → real Tollgate (demo policy)', () => {
  let tollgate: TestTollgate;
  let base = '';

  beforeAll(async () => {
    tollgate = await startTollgate({
      accounts: [
        { label: 'limited', tier: 'free' },
        { label: 'free', tier: 'free' },
        { label: 'pro', tier: 'pro' },
      ],
    });
    base = `http://127.0.0.1:${tollgate.httpPort}${ENVOY_HTTP_PREFIX}`;
  });
  afterAll(() => tollgate?.stop());

  /** What Envoy sends: the client's method, path_prefix + original :path, no body. */
  const authz = (method: string, path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method, headers });

  it('allows with exactly 200 and identity headers, then relays 429 with Retry-After and a problem body', async () => {
    const key = tollgate.keys.limited!;
    for (let i = 1; i <= 10; i++) {
      const res = await authz('GET', '/v1/items?page=1', { 'x-api-key': key, 'x-request-id': `req-${i}` });
      expect(res.status, `call ${i}`).toBe(200);
      expect(res.headers.get('x-tollgate-account')).toBe(tollgate.accounts.limited);
      expect(res.headers.get('x-tollgate-key-id')).toBe(tollgate.keyIds.limited);
      expect(res.headers.get('x-tollgate-tier')).toBe('free');
      expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBe('x-api-key, authorization');
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(10 - i));
    }
    const denied = await authz('GET', '/v1/items', { 'x-api-key': key });
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(denied.headers.get('ratelimit')).toMatch(/"per-minute";r=0;t=\d+/);
    expect(denied.headers.get('content-type')).toBe('application/problem+json');
    expect(denied.headers.get('x-tollgate-account')).toBeNull();
    expect(await denied.json()).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      'violated-policies': ['per-minute'],
    });
  });

  it('relays 401 with WWW-Authenticate for an unknown key and 403 for export on free', async () => {
    const bad = await authz('DELETE', '/v1/items/1', { 'x-api-key': 'tg_live_unknown' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await bad.json()).toMatchObject({ code: 'invalid_api_key' });
    const gated = await authz('GET', '/v1/export/all.csv', { 'x-api-key': tollgate.keys.free! });
    expect(gated.status).toBe(403);
    expect(await gated.json()).toMatchObject({ code: 'endpoint_not_in_plan', status: 403 });
  });

  it('matches the chat endpoint on the client method and removes the Bearer key and spoofed headers', async () => {
    const res = await authz('POST', '/v1/chat/completions', {
      authorization: `Bearer ${tollgate.keys.pro}`,
      'x-tollgate-account': 'acct_spoofed',
      'x-tollgate-degraded': 'true',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tollgate-endpoint')).toBe('chat');
    expect(res.headers.get('x-tollgate-account')).toBe(tollgate.accounts.pro);
    // x-tollgate-account is overwritten via allowed_upstream_headers; the rest is removed.
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBe(
      'x-api-key, authorization, x-tollgate-degraded',
    );
    expect(res.headers.get('ratelimit-policy')).toContain('"chat-minute"');
  });
});

describe('shipped Envoy configs agree with the code', () => {
  const defaults = loadConfig({});
  const load = (file: string) => parse(readFileSync(join(ROOT, 'envoy', file), 'utf8')) as EnvoyConfig;
  const extAuthz = (config: EnvoyConfig) => {
    const hcm = config.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;
    const filter = hcm.http_filters.find((f) => f.name === 'envoy.filters.http.ext_authz')!;
    expect(hcm.http_filters.at(-1)!.name).toBe('envoy.filters.http.router');
    return { hcm, authz: filter.typed_config as Record<string, any> };
  };
  const clusterPort = (config: EnvoyConfig, name: string) =>
    config.static_resources.clusters.find((c) => c.name === name)!.load_assignment.endpoints[0]!
      .lb_endpoints[0]!.endpoint.address.socket_address.port_value;

  it('gRPC mode: V3, fail closed with 503, HTTP/2 to GRPC_PORT, chat context_extensions', () => {
    const config = load('envoy.yaml');
    const { hcm, authz } = extAuthz(config);
    expect(authz['transport_api_version']).toBe('V3');
    expect(authz['failure_mode_allow']).toBe(false);
    expect(authz['status_on_error']).toEqual({ code: 'ServiceUnavailable' });
    const cluster = authz['grpc_service'].envoy_grpc.cluster_name as string;
    expect(clusterPort(config, cluster)).toBe(defaults.grpcPort);
    const options = config.static_resources.clusters.find(
      (c) => c.name === cluster,
    )!.typed_extension_protocol_options;
    expect(
      options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config,
    ).toHaveProperty('http2_protocol_options');
    const chat = hcm.route_config.virtual_hosts[0]!.routes.find((r) => r.match.prefix === '/v1/chat/')!;
    expect(
      chat.typed_per_filter_config!['envoy.filters.http.ext_authz'].check_settings.context_extensions,
    ).toEqual({ 'tollgate.endpoint': 'chat', 'tollgate.cost': '5' });
  });

  it('HTTP mode: path_prefix and port match the listener, key and identity headers are allow-listed', () => {
    const config = load('envoy-http-mode.yaml');
    const { authz } = extAuthz(config);
    const service = authz['http_service'];
    expect(service.path_prefix).toBe(ENVOY_HTTP_PREFIX);
    expect(clusterPort(config, service.server_uri.cluster)).toBe(defaults.httpPort);
    expect(service.server_uri.uri).toBe(`http://127.0.0.1:${defaults.httpPort}`);
    const patterns = (list: { patterns: Array<Record<string, string>> }) => list.patterns;
    expect(patterns(authz['allowed_headers'])).toEqual(
      expect.arrayContaining([{ exact: 'x-api-key' }, { exact: 'authorization' }, { prefix: 'x-tollgate-' }]),
    );
    expect(patterns(service.authorization_response.allowed_upstream_headers)).toEqual([
      { prefix: 'x-tollgate-' },
    ]);
    expect(patterns(service.authorization_response.allowed_client_headers)).toEqual(
      expect.arrayContaining([
        { exact: 'retry-after' },
        { exact: 'ratelimit' },
        { exact: 'ratelimit-policy' },
      ]),
    );
    expect(patterns(service.authorization_response.allowed_client_headers_on_success)).toEqual(
      expect.arrayContaining([{ exact: 'ratelimit' }, { prefix: 'x-ratelimit-' }]),
    );
    expect(authz['failure_mode_allow']).toBe(false);
  });
});

interface EnvoyConfig {
  static_resources: {
    listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Hcm }> }> }>;
    clusters: Array<{
      name: string;
      load_assignment: {
        endpoints: Array<{
          lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }>;
        }>;
      };
      typed_extension_protocol_options: Record<string, any>;
    }>;
  };
}
interface Hcm {
  http_filters: Array<{ name: string; typed_config: unknown }>;
  route_config: {
    virtual_hosts: Array<{
      routes: Array<{ match: { prefix?: string }; typed_per_filter_config?: Record<string, any> }>;
    }>;
  };
}
