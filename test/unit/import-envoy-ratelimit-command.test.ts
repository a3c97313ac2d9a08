// `tollgate import-envoy-ratelimit` through the CLI's command table (no database is opened), and the
// shipped envoy/envoy-ratelimit.yaml pointing Envoy's rate-limit filter at Tollgate.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { parse } from 'yaml';
import { runCommand } from '../../src/cli/commands.js';
import { loadConfig } from '../../src/config.js';
import { InputError } from '../../src/errors.js';
import { parsePolicy } from '../../src/policy/policy-file.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/envoy-ratelimit/${name}`, import.meta.url));
/** Points at a database that does not exist: the command must not need one. */
const CONFIG = loadConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

async function stdoutOf(args: string[]): Promise<string> {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (chunks.push(String(chunk)), true));
  await runCommand('import-envoy-ratelimit', args, CONFIG);
  return chunks.join('');
}

describe('tollgate import-envoy-ratelimit', () => {
  afterEach(() => void vi.restoreAllMocks());

  test('prints a ratelimit_domains section ready to paste into a policy file', async () => {
    const out = await stdoutOf([
      fixture('valid/example1-mongo.yaml'),
      fixture('valid/example2-messaging.yaml'),
    ]);
    expect(out).toMatch(/^# Imported by tollgate import-envoy-ratelimit/);
    expect(
      Object.keys(parsePolicy(`tiers:\n  free: { quota: unlimited }\n${out}`).ratelimitDomains!),
    ).toEqual(['mongo_cps', 'messaging']);
  });

  test('--merge merges files of one domain, as MERGE_DOMAIN_CONFIG does', async () => {
    const files = [fixture('conformance/shop.yaml'), fixture('conformance/shop-more.yaml')];
    const merged = JSON.parse(await stdoutOf(['--json', '--merge', ...files]));
    expect(merged.ratelimit_domains.shop.counting).toBe('envoy');
    expect(merged.ratelimit_domains.shop.descriptors.map((d: { key: string }) => d.key)).toContain('extra');
    const err = await runCommand('import-envoy-ratelimit', files, CONFIG).catch((e: unknown) => e);
    expect((err as InputError).message).toContain("duplicate domain 'shop' in config file");
  });

  test('--json, and errors naming the file and the place', async () => {
    expect(Object.keys(JSON.parse(await stdoutOf(['--json', fixture('valid/example4-depth.yaml')])))).toEqual(
      ['ratelimit_domains', 'notes'],
    );
    const err = await runCommand(
      'import-envoy-ratelimit',
      [fixture('invalid/invalid-unit.yaml')],
      CONFIG,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe(
      `${fixture('invalid/invalid-unit.yaml')}:3:5: descriptors[0].rate_limit.unit: invalid rate limit unit 'fortnight'`,
    );
    await expect(runCommand('import-envoy-ratelimit', [], CONFIG)).rejects.toThrow('name the config files');
    await expect(runCommand('import-envoy-ratelimit', ['/no/such.yaml'], CONFIG)).rejects.toThrow(
      '/no/such.yaml: cannot read the config file (ENOENT)',
    );
  });
});

describe('envoy/envoy-ratelimit.yaml', () => {
  const config = parse(readFileSync(new URL('../../envoy/envoy-ratelimit.yaml', import.meta.url), 'utf8'));
  const hcm = config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;

  test('the rate-limit filter asks Tollgate over gRPC v3 on 8081, HTTP/2', () => {
    const filter = hcm.http_filters.find(
      (f: { name: string }) => f.name === 'envoy.filters.http.ratelimit',
    ).typed_config;
    expect(filter.domain).toBe('edge');
    expect(filter.rate_limit_service).toEqual({
      transport_api_version: 'V3',
      grpc_service: { envoy_grpc: { cluster_name: 'tollgate_grpc' } },
    });
    const cluster = config.static_resources.clusters.find(
      (c: { name: string }) => c.name === 'tollgate_grpc',
    );
    expect(
      cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value,
    ).toBe(8081);
    expect(
      cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
        .explicit_http_config,
    ).toEqual({ http2_protocol_options: {} });
    expect(hcm.http_filters.at(-1).name).toBe('envoy.filters.http.router');
  });

  test('routes produce descriptors with rate_limits actions', () => {
    const vhost = hcm.route_config.virtual_hosts[0];
    expect(vhost.rate_limits[0].actions).toEqual([{ remote_address: {} }]);
    expect(vhost.routes[0].route.rate_limits[0].actions.map((a: object) => Object.keys(a)[0])).toEqual([
      'header_value_match',
      'request_headers',
    ]);
  });
});
