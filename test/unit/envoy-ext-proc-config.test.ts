// The shipped envoy/envoy.yaml runs ext_proc on metered routes only, and every ext_proc setting in
// it is a field (and enum value) of the upstream ExternalProcessor / ExtProcPerRoute protos in
// test/fixtures/envoy-upstream: there is no Envoy binary in CI, so the protos are the reference.

import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { upstreamExtProcFilterRoot, upstreamExtProcRoot } from '../support/ext-proc-client.js';
import { ROOT } from '../support/processes.js';

type Json = any;
const PKG = 'envoy.extensions.filters.http.ext_proc.v3';
const EXT_PROC = 'envoy.filters.http.ext_proc';
const envoy: Json = parse(readFileSync(join(ROOT, 'envoy/envoy.yaml'), 'utf8'));
const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const filters: Json[] = hcm.http_filters;
const routes: Json[] = hcm.route_config.virtual_hosts.flatMap((v: Json) => v.routes);
const filterRoot = upstreamExtProcFilterRoot();
const modeRoot = upstreamExtProcRoot();
let checkedEnums = 0;

/** Every key of `config` is a field of upstream `type`; enum fields hold one of its values. */
function expectUpstreamFields(config: Json, type: protobuf.Type, where: string) {
  for (const [key, value] of Object.entries(config)) {
    if (key === '@type') continue;
    const field = type.fields[key];
    expect(field, `${where}.${key} is not a field of upstream ${type.name}`).toBeDefined();
    const enumType = (() => {
      try {
        const resolved = field!.resolve().resolvedType;
        return resolved instanceof protobuf.Enum ? resolved : undefined;
      } catch {
        return undefined; // a type from a file not copied here (GrpcService): checked by name only
      }
    })();
    if (enumType) {
      expect(Object.keys(enumType.values), `${where}.${key}`).toContain(value);
      checkedEnums++;
    } else if (field!.type === 'bool') expect(typeof value, `${where}.${key}`).toBe('boolean');
    else if (field!.type === 'google.protobuf.Duration')
      expect(value, `${where}.${key}`).toMatch(/^\d+(\.\d+)?s$/);
  }
}

describe('envoy/envoy.yaml ext_proc', () => {
  const index = filters.findIndex((f) => f.name === EXT_PROC);
  const extProc = filters[index]?.typed_config;

  it('runs after ext_authz (its request headers carry the reservation) and before the router', () => {
    expect(index).toBeGreaterThan(filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz'));
    expect(index).toBeLessThan(filters.findIndex((f) => f.name === 'envoy.filters.http.router'));
    expect(extProc['@type']).toBe(`type.googleapis.com/${PKG}.ExternalProcessor`);
  });

  it('sets only upstream ExternalProcessor and ProcessingMode fields, with upstream enum values', () => {
    expectUpstreamFields(extProc, filterRoot.lookupType(`${PKG}.ExternalProcessor`), 'ext_proc');
    const mode = modeRoot.lookupType(`${PKG}.ProcessingMode`);
    expectUpstreamFields(extProc.processing_mode, mode, 'ext_proc.processing_mode');
    expect(checkedEnums).toBe(6);
  });

  it('observes without blocking, fails open, and streams the response body to the sidecar', () => {
    expect(extProc.observability_mode).toBe(true);
    expect(extProc.failure_mode_allow).toBe(true);
    expect(extProc.processing_mode).toMatchObject({
      request_header_mode: 'SEND',
      response_header_mode: 'SEND',
      request_body_mode: 'NONE',
      // observability mode sends STREAMED bodies only (BUFFERED would hold SSE chunks back anyway).
      response_body_mode: 'STREAMED',
    });
    const cluster = envoy.static_resources.clusters.find(
      (c: Json) => c.name === extProc.grpc_service.envoy_grpc.cluster_name,
    );
    // The sidecar's GRPC_PORT cluster, the one ext_authz uses.
    expect(cluster.name).toBe('tollgate');
  });

  it('is on for the metered routes only: every other route disables it with ExtProcPerRoute', () => {
    const policy = parsePolicy(readFileSync(join(ROOT, 'src/policy/demo-policy.yaml'), 'utf8'));
    const metered = new Set(policy.endpoints.filter((e) => e.metering).map((e) => e.name));
    expect(metered.size).toBeGreaterThan(0);
    const perRoute = filterRoot.lookupType(`${PKG}.ExtProcPerRoute`);
    let on = 0;
    for (const route of routes) {
      const endpoint =
        route.typed_per_filter_config?.['envoy.filters.http.ext_authz']?.check_settings?.context_extensions?.[
          'tollgate.endpoint'
        ];
      const override = route.typed_per_filter_config?.[EXT_PROC];
      if (endpoint && metered.has(endpoint)) {
        expect(override, `route ${JSON.stringify(route.match)} meters ${endpoint}`).toBeUndefined();
        on++;
        continue;
      }
      expect(override?.['@type'], `route ${JSON.stringify(route.match)}`).toBe(
        `type.googleapis.com/${PKG}.ExtProcPerRoute`,
      );
      expectUpstreamFields(override, perRoute, 'ExtProcPerRoute');
      expect(override.disabled).toBe(true);
    }
    expect(on).toBe(metered.size);
  });
});
