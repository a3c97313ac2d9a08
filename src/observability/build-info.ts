// Metrics: tollgate_build_info, the constant 1 whose labels say what runs (set once at start).

import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

/** package.json sits two levels up from both src/observability/ and dist/observability/. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

/** commit: TOLLGATE_COMMIT (config.buildCommit), set by the image build; "unknown" otherwise. */
export function registerBuildInfo(registry: Registry, commit: string): BuildInfo {
  const info: BuildInfo = { version: packageVersion(), commit, node: process.version };
  const gauge = new Gauge({
    name: 'tollgate_build_info',
    help: 'Always 1; the labels say which Tollgate version and commit runs on which Node.js.',
    labelNames: ['version', 'commit', 'node'] as const,
    registers: [registry],
  });
  gauge.set({ ...info }, 1);
  return info;
}
