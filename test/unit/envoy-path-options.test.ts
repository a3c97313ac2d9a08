// The shipped Envoy configs read every path once, as Tollgate does (src/policy/normalize-path.ts),
// and refuse `_` header names; the copy embedded in kubernetes.yaml is checked verbatim elsewhere
// (deploy-manifests.test.ts), and checked here too so a drifted copy names this test.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../support/processes.js';

type Json = Record<string, any>;

function connectionManagers(config: Json): Json[] {
  return (config.static_resources.listeners as Json[]).flatMap((listener) =>
    (listener.filter_chains as Json[]).flatMap((chain) =>
      (chain.filters as Json[])
        .filter((f) => f.name === 'envoy.filters.network.http_connection_manager')
        .map((f) => f.typed_config),
    ),
  );
}

const shipped = ['envoy/envoy.yaml', 'envoy/envoy-http-mode.yaml', 'envoy/envoy-ratelimit.yaml'].map(
  (file) => [file, parse(readFileSync(join(ROOT, file), 'utf8'))] as const,
);
const embedded = parseAllDocuments(readFileSync(join(ROOT, 'kubernetes.yaml'), 'utf8'))
  .map((doc) => doc.toJS() as Json)
  .filter((doc) => doc?.kind === 'ConfigMap')
  .flatMap((map) => Object.entries((map.data ?? {}) as Record<string, string>))
  .filter(([, text]) => text.includes('http_connection_manager'))
  .map(([name, text]) => [`kubernetes.yaml ${name}`, parse(text)] as const);

describe('Envoy: one reading of every path, no underscore headers', () => {
  it.each([...shipped, ...embedded])('%s', (_name, config) => {
    const managers = connectionManagers(config);
    expect(managers.length).toBeGreaterThan(0);
    for (const hcm of managers) {
      expect(hcm).toMatchObject({
        '@type':
          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        normalize_path: true,
        merge_slashes: true,
        path_with_escaped_slashes_action: 'REJECT_REQUEST',
        common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
      });
    }
  });

  it('the embedded kubernetes copy was found', () => expect(embedded.length).toBeGreaterThan(0));
});
