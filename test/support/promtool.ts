// Prometheus' own linter for tests: `promtool check metrics` (Debian's `prometheus` package; .ci/run
// installs it the way it installs nginx).

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** The promtool binary, or a loud failure: the metric naming test must never silently skip. */
export function promtoolBinary(): string {
  for (const candidate of [process.env.PROMTOOL_BIN, '/usr/bin/promtool', '/usr/local/bin/promtool'])
    if (candidate && existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'promtool is not installed (looked for PROMTOOL_BIN, /usr/bin/promtool and PATH): install it, e.g. `apt-get install --no-install-recommends prometheus` (.ci/run does)',
  );
}

/** Lints a text exposition the way Prometheus' naming rules do; `problems` is promtool's report. */
export function promtoolCheckMetrics(exposition: string): { code: number | null; problems: string } {
  const result = spawnSync(promtoolBinary(), ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { code: result.status, problems: `${result.stdout}${result.stderr}`.trim() };
}
