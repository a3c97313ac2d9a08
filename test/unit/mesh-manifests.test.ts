// The mesh and gateway manifests (deploy/istio/, deploy/envoy-gateway/, deploy/tollgate-service.yaml)
// checked against the CRD schemas of the fields they use (trimmed copies in test/fixtures/crds/, made
// with scripts/trim-crd-schema.mjs) and against what they must agree with: the shipped envoy.yaml's
// ext_authz settings and context extensions, the demo policy, the sidecar of kubernetes.yaml, and
// the Service they call.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { COST_EXTENSION, ENDPOINT_EXTENSION } from '../../src/transports/grpc/access-request-from-check.js';
import { ROOT } from '../support/processes.js';
import { validateAgainstSchema } from '../support/structural-schema.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed manifests

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const docsOf = (path: string): Json[] =>
  parseAllDocuments(read(path)).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
const find = (docs: Json[], kind: string, name: string): Json => {
  const found = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};

const CRDS = {
  securityPolicy: 'envoy-gateway-securitypolicy.json',
  httpRoute: 'gateway-api-httproute.json',
  referenceGrant: 'gateway-api-referencegrant.json',
  authorizationPolicy: 'istio-authorizationpolicy.json',
  meshConfig: 'istio-meshconfig-extensionproviders.json',
} as const;
const crd = (file: string): Json => JSON.parse(read(`test/fixtures/crds/${file}`));
const SCHEMA_BY_KIND: Record<string, Json> = Object.fromEntries(
  Object.values(CRDS).map((file) => {
    const c = crd(file);
    return [`${c.apiVersion} ${c.kind}`, c];
  }),
);

/** Schema problems of one manifest document (apiVersion, kind and metadata are the API server's own). */
function problemsOf(doc: Json): string[] {
  const c = SCHEMA_BY_KIND[`${doc.apiVersion} ${doc.kind}`];
  if (!c) return [`no schema copy for ${doc.apiVersion} ${doc.kind}`];
  const schema = structuredClone(c.openAPIV3Schema);
  schema.properties = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    ...schema.properties,
  };
  return validateAgainstSchema(doc, schema);
}

const k8sDocs = docsOf('kubernetes.yaml');
const serviceDocs = docsOf('deploy/tollgate-service.yaml');
const istioMesh = docsOf('deploy/istio/mesh-config.yaml');
const istioPolicy = docsOf('deploy/istio/authorization-policy.yaml');
const gatewayDocs = docsOf('deploy/envoy-gateway/security-policy.yaml');
const config = loadConfig({});

// What envoy/envoy.yaml does, which the meshes must do the same way.
const envoy: Json = parse(read('envoy/envoy.yaml'));
const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const extAuthz = hcm.http_filters.find((f: Json) => f.name === 'envoy.filters.http.ext_authz').typed_config;
const envoyRoutes: Json[] = hcm.route_config.virtual_hosts.flatMap((v: Json) => v.routes);
const perRoute = (r: Json) => r.typed_per_filter_config?.['envoy.filters.http.ext_authz'];
const namedRoute = envoyRoutes.find((r) => perRoute(r)?.check_settings?.context_extensions);
const exemptRoute = envoyRoutes.find((r) => perRoute(r)?.disabled === true);
const demoPolicy: Json = parse(read('src/policy/demo-policy.yaml'));

/** The Service a host name (name.namespace.svc.cluster.local) or a backendRef points at. */
function tollgateService(name: string, namespace: string): Json {
  const service = find(serviceDocs, 'Service', name);
  expect(service.metadata.namespace).toBe(namespace);
  return service;
}

describe('the schema check itself', () => {
  it('rejects unknown fields, wrong types, missing required fields and values outside an enum', () => {
    const policy = structuredClone(find(gatewayDocs, 'SecurityPolicy', 'tollgate-chat'));
    expect(problemsOf(policy)).toEqual([]);
    policy.spec.extAuth.grpc.backendRefs[0].prot = 8081;
    policy.spec.extAuth.timeout = 100;
    policy.spec.extAuth.statusOnError = 299;
    delete policy.spec.extAuth.contextExtensions[0].name;
    policy.spec.extAuth.failClosed = true;
    const problems = problemsOf(policy).join('\n');
    expect(problems).toMatch(/backendRefs\[0\]\.prot: unknown field/);
    expect(problems).toMatch(/extAuth\.timeout: expected string/);
    expect(problems).toMatch(/statusOnError: 299 is not one of/);
    expect(problems).toMatch(/contextExtensions\[0\]: required field name is missing/);
    expect(problems).toMatch(/extAuth\.failClosed: unknown field/);

    const authz = structuredClone(istioPolicy[0]);
    authz.spec.action = 'EXTERNAL';
    expect(problemsOf(authz).join('\n')).toMatch(/spec\.action: "EXTERNAL" is not one of/);
  });
});

describe('deploy/istio', () => {
  const provider = istioMesh[0].spec.meshConfig.extensionProviders[0];
  const policy = istioPolicy[0];

  it('validates against the schemas: IstioOperator meshConfig.extensionProviders and AuthorizationPolicy', () => {
    for (const doc of [...istioMesh, ...istioPolicy]) expect(problemsOf(doc), `${doc.kind}`).toEqual([]);
    expect(Object.keys(provider)).toEqual(['name', 'envoyExtAuthzGrpc']);
  });

  it('the AuthorizationPolicy sends the API pods through the "tollgate" provider (action CUSTOM)', () => {
    expect(policy.spec.action).toBe('CUSTOM');
    expect(policy.spec.provider.name).toBe(provider.name);
    const apiPods = find(k8sDocs, 'Deployment', 'api').spec.template.metadata.labels;
    expect(apiPods).toMatchObject(policy.spec.selector.matchLabels);
    // The app's own probes skip the check, as in envoy/envoy.yaml.
    const exempt = exemptRoute.match.path as string;
    expect(policy.spec.rules).toEqual([{ to: [{ operation: { notPaths: [exempt] } }] }]);
  });

  it('the provider calls the shared Tollgate Service on GRPC_PORT, failing closed like envoy.yaml', () => {
    const grpc = provider.envoyExtAuthzGrpc;
    const [name, namespace, ...rest] = (grpc.service as string).split('.');
    expect(rest).toEqual(['svc', 'cluster', 'local']);
    const service = tollgateService(name!, namespace!);
    expect(service.spec.ports.map((p: Json) => p.port)).toContain(grpc.port);
    expect(grpc.port).toBe(config.grpcPort);
    expect(grpc.failOpen).toBe(extAuthz.failure_mode_allow);
    expect(extAuthz.status_on_error.code).toBe('ServiceUnavailable');
    expect(grpc.statusOnError).toBe('503');
    expect(grpc.timeout).toBe(extAuthz.grpc_service.timeout);
    // No per-route context extensions in Istio's provider: the policy's endpoints must match by path.
    expect(Object.keys(grpc)).not.toContain('contextExtensions');
    const chat =
      demoPolicy.endpoints[
        namedRoute.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions[
          ENDPOINT_EXTENSION
        ]
      ];
    expect(chat.match.path).toBeDefined();
  });
});

describe('deploy/envoy-gateway', () => {
  const policies = gatewayDocs.filter((d) => d.kind === 'SecurityPolicy');
  const routes = gatewayDocs.filter((d) => d.kind === 'HTTPRoute');

  it('validates against the schemas: SecurityPolicy (extAuth), HTTPRoute and ReferenceGrant', () => {
    expect(gatewayDocs.map((d) => d.kind).sort()).toEqual(
      ['HTTPRoute', 'HTTPRoute', 'HTTPRoute', 'ReferenceGrant', 'SecurityPolicy', 'SecurityPolicy'].sort(),
    );
    for (const doc of gatewayDocs) expect(problemsOf(doc), `${doc.kind} ${doc.metadata.name}`).toEqual([]);
  });

  it("holds the CRDs' CEL rules the schema copy cannot evaluate", () => {
    for (const policy of policies) {
      const { extAuth, targetRefs } = policy.spec;
      expect(Boolean(extAuth.grpc) !== Boolean(extAuth.http), 'exactly one of grpc or http').toBe(true);
      expect(extAuth.grpc.backendRefs.length).toBeGreaterThan(0);
      for (const ref of extAuth.grpc.backendRefs) expect(ref.kind ?? 'Service').toBe('Service');
      for (const ext of extAuth.contextExtensions ?? []) {
        expect(ext.type).toBe('Value');
        expect(typeof ext.value).toBe('string');
        expect(ext.valueRef).toBeUndefined();
      }
      for (const ref of targetRefs) {
        expect(ref.group).toBe('gateway.networking.k8s.io');
        expect(ref.kind).toBe('HTTPRoute');
      }
    }
  });

  it('attaches one policy per HTTPRoute; the probe route has none', () => {
    const targeted = policies.flatMap((p) =>
      p.spec.targetRefs.map((ref: Json) => {
        const route = find(gatewayDocs, 'HTTPRoute', ref.name);
        expect(route.metadata.namespace).toBe(p.metadata.namespace);
        return ref.name as string;
      }),
    );
    expect(new Set(targeted).size).toBe(targeted.length);
    const untargeted = routes.filter((r) => !targeted.includes(r.metadata.name));
    expect(untargeted.map((r) => r.spec.rules[0].matches[0].path)).toEqual([
      { type: 'Exact', value: exemptRoute.match.path },
    ]);
  });

  it("names the endpoint and cost per route as envoy.yaml's context_extensions do, for a route of the same path", () => {
    const extensions = namedRoute.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings
      .context_extensions as Record<string, string>;
    const named = policies.filter((p) => p.spec.extAuth.contextExtensions);
    expect(named).toHaveLength(1);
    const asMap = Object.fromEntries(
      named[0].spec.extAuth.contextExtensions.map((e: Json) => [e.name, e.value] as const),
    );
    expect(asMap).toEqual(extensions);
    expect(Object.keys(asMap).sort()).toEqual([COST_EXTENSION, ENDPOINT_EXTENSION].sort());
    // The endpoint exists in the demo policy at that cost (a metered one: the units it reserves).
    const endpoint = demoPolicy.endpoints[asMap[ENDPOINT_EXTENSION]!];
    expect(Number(asMap[COST_EXTENSION])).toBe(endpoint.cost ?? endpoint.metering.reserve);
    const route = find(gatewayDocs, 'HTTPRoute', named[0].spec.targetRefs[0].name);
    expect(route.spec.rules[0].matches[0].path).toEqual({
      type: 'PathPrefix',
      value: namedRoute.match.prefix,
    });
  });

  it('every policy calls the shared Tollgate Service on GRPC_PORT, failing closed within 100 ms, across namespaces by grant', () => {
    const grant = gatewayDocs.find((d) => d.kind === 'ReferenceGrant');
    for (const policy of policies) {
      const { extAuth } = policy.spec;
      expect(extAuth.failOpen).toBe(false);
      expect(extAuth.statusOnError).toBe(503);
      expect(extAuth.timeout).toBe('100ms');
      for (const ref of extAuth.grpc.backendRefs) {
        const service = tollgateService(ref.name, ref.namespace);
        expect(service.spec.ports.map((p: Json) => p.port)).toContain(ref.port);
        expect(ref.port).toBe(config.grpcPort);
        if (ref.namespace !== policy.metadata.namespace) {
          expect(grant.metadata.namespace).toBe(ref.namespace);
          expect(grant.spec.from).toContainEqual({
            group: 'gateway.envoyproxy.io',
            kind: 'SecurityPolicy',
            namespace: policy.metadata.namespace,
          });
          expect(grant.spec.to).toContainEqual({ group: '', kind: 'Service', name: ref.name });
        }
      }
    }
  });
});

describe('deploy/tollgate-service.yaml', () => {
  const deployment = find(serviceDocs, 'Deployment', 'tollgate');
  const pod = deployment.spec.template.spec;
  const sidecar = find(k8sDocs, 'Deployment', 'api').spec.template.spec.containers.find(
    (c: Json) => c.name === 'tollgate',
  );

  it("runs kubernetes.yaml's sidecar container, field for field, with its volumes", () => {
    expect(pod.containers).toEqual([sidecar]);
    const volumes = new Set(pod.volumes.map((v: Json) => v.name));
    for (const mount of sidecar.volumeMounts) expect(volumes.has(mount.name), mount.name).toBe(true);
    for (const volume of pod.volumes.filter((v: Json) => v.configMap))
      expect(find(k8sDocs, 'ConfigMap', volume.configMap.name)).toBeDefined();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('serves gRPC as h2c on GRPC_PORT, autoscaled (no replicas), never exposing the admin port', () => {
    const service = find(serviceDocs, 'Service', 'tollgate');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([
      { name: 'grpc', port: config.grpcPort, targetPort: config.grpcPort, appProtocol: 'kubernetes.io/h2c' },
    ]);
    const hpa = find(serviceDocs, 'HorizontalPodAutoscaler', 'tollgate');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'tollgate' });
    expect(deployment.spec.replicas).toBeUndefined();
    const policies = serviceDocs.filter((d) => d.kind === 'NetworkPolicy');
    const ports = policies.flatMap((p) =>
      p.spec.ingress.flatMap((r: Json) => r.ports.map((x: Json) => x.port)),
    );
    expect(ports).toContain(config.grpcPort);
    expect(ports).not.toContain(config.adminPort);
    // Its pods may reach Redis and Postgres (kubernetes.yaml admits only the API pods).
    for (const store of ['redis', 'postgres']) {
      const policy = policies.find((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/name'] === store);
      expect(policy.spec.ingress[0].from).toEqual([
        { podSelector: { matchLabels: deployment.spec.selector.matchLabels } },
      ]);
    }
  });
});
