// /metrics as a platform team's Prometheus sees it: the whole exposition of a running app passes
// `promtool check metrics` (Prometheus' naming rules), and tollgate_build_info says what runs.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, type Sample } from '../support/prometheus-text.js';
import { promtoolCheckMetrics } from '../support/promtool.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

describe('/metrics exposition', () => {
  let tollgate: TestTollgate;
  let text: string;
  let samples: Sample[];

  beforeAll(async () => {
    tollgate = await startTollgate({
      accounts: [{ label: 'free', tier: 'free' }],
      env: { TOLLGATE_COMMIT: '0a1b2c3' },
    });
    // Decisions first, so that the labelled metrics have samples to lint too.
    const check = (key: string) =>
      fetch(`http://127.0.0.1:${tollgate.httpPort}/check`, {
        headers: { 'x-api-key': key, 'x-original-uri': '/v1/chat/completions', 'x-original-method': 'POST' },
      });
    expect((await check(tollgate.keys['free']!)).status).toBe(204);
    expect((await check('tg_live_thisisnotakeythisisnotakey2345')).status).toBe(401);
    const res = await fetch(`http://127.0.0.1:${tollgate.httpPort}/metrics`);
    expect(res.status).toBe(200);
    text = await res.text();
    samples = parsePrometheusText(text);
  });

  afterAll(async () => {
    await tollgate?.stop();
  });

  it('passes promtool check metrics: every family, process and Node.js metrics included', () => {
    expect(text).toMatch(/^# TYPE tollgate_decisions_total counter$/m);
    expect(text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    const { code, problems } = promtoolCheckMetrics(text);
    expect(problems).toBe('');
    expect(code).toBe(0);
  });

  it('keeps the active handle / request / resource gauges under their rule-abiding names only', () => {
    const families = new Set(samples.map((s) => s.name));
    for (const name of ['nodejs_active_handles', 'nodejs_active_requests', 'nodejs_active_resources']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
      expect(families.has(`${name}_total`), `${name}_total`).toBe(false);
    }
  });

  it('reports tollgate_build_info{version, commit, node} = 1 from package.json, TOLLGATE_COMMIT and the runtime', () => {
    const info = samples.filter((s) => s.name === 'tollgate_build_info');
    expect(info).toEqual([
      {
        name: 'tollgate_build_info',
        labels: { version: VERSION, commit: '0a1b2c3', node: process.version },
        value: 1,
      },
    ]);
  });
});

describe('promtool itself', () => {
  it('rejects a gauge named like a counter, so a pass above means something', () => {
    const { code, problems } = promtoolCheckMetrics(
      '# HELP x_active_total Things.\n# TYPE x_active_total gauge\nx_active_total 1\n',
    );
    expect(code).not.toBe(0);
    expect(problems).toContain('non-counter metrics should not have "_total" suffix');
  });
});
