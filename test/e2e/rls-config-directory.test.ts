// envoyproxy/ratelimit's config directory as it lives, read by two replicas of the real app: an edit
// in place, a Kubernetes ConfigMap `..data` swap and a RUNTIME_ROOT symlink swap each reach every
// replica within 2 s; a broken file keeps the last good rules and raises the load-error metric.

import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { freshPostgres } from '../support/databases.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import {
  prepareDatabase,
  startTollgate,
  type PreparedDatabase,
  type TestTollgate,
} from '../support/tollgate.js';

const NEW_LIMITS_WITHIN_MS = 2_000;
const root = mkdtempSync(join(tmpdir(), 'tollgate-erl-'));
const config = (domain: string, perMinute: number) => `domain: ${domain}
descriptors:
  - key: city
    rate_limit: { unit: minute, requests_per_unit: ${perMinute} }
`;

/** The limit a replica answers for `domain` right now (POST /json), or null when it has no rule. */
async function limitOn(replica: TestTollgate, domain: string): Promise<number | null> {
  const res = await fetch(`http://127.0.0.1:${replica.httpPort}/json`, {
    method: 'POST',
    body: JSON.stringify({
      domain,
      descriptors: [{ entries: [{ key: 'city', value: 'Zürich' }], hitsAddend: 0 }],
    }),
  });
  const body = (await res.json()) as { statuses: Array<{ currentLimit?: { requestsPerUnit: number } }> };
  return body.statuses[0]?.currentLimit?.requestsPerUnit ?? null;
}

/** ms until every replica answers `limit` for `domain` (fails past 2 s). */
async function untilEveryReplica(replicas: TestTollgate[], domain: string, limit: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const seen = await Promise.all(replicas.map((r) => limitOn(r, domain)));
    if (seen.every((l) => l === limit)) return Date.now() - start;
    if (Date.now() - start > NEW_LIMITS_WITHIN_MS)
      throw new Error(
        `after ${NEW_LIMITS_WITHIN_MS} ms the replicas answer ${seen.join(', ')}, not ${limit}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function loadErrors(replica: TestTollgate): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.httpPort}/metrics`)).text();
  return (
    sampleValue(parsePrometheusText(text), 'ratelimit_service_config_load_error', { source: 'directory' }) ??
    0
  );
}

describe('the config directory, watched by every replica', () => {
  let db: PreparedDatabase;
  const started: TestTollgate[] = [];
  const replicas = async (env: Record<string, string>) => {
    const pair = [
      await startTollgate({ accounts: [], database: db, store: 'memory', env }),
      await startTollgate({ accounts: [], database: db, store: 'memory', env }),
    ];
    started.push(...pair);
    return pair;
  };
  beforeAll(async () => {
    db = await prepareDatabase({ accounts: [] });
  });
  afterAll(async () => {
    for (const r of started) await r.stop();
    await db?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('an edited file reaches every replica; a broken file keeps the old rules and raises the metric', async () => {
    const dir = join(root, 'plain');
    mkdirSync(dir);
    writeFileSync(join(dir, 'cities.yaml'), config('cities', 10));
    writeFileSync(join(dir, 'README.txt'), 'not a config file: ignored');
    const pair = await replicas({ ERL_CONFIG_DIR: dir });
    expect(await Promise.all(pair.map((r) => limitOn(r, 'cities')))).toEqual([10, 10]);

    writeFileSync(join(dir, 'cities.yaml'), config('cities', 20));
    const ms = await untilEveryReplica(pair, 'cities', 20);
    console.log(`edit in place: every replica on the new limit after ${ms} ms`);

    const before = await Promise.all(pair.map(loadErrors));
    writeFileSync(
      join(dir, 'cities.yaml'),
      'domain: cities\ndescriptors:\n  - key: city\n    rate_limit: { unit: fortnight }\n',
    );
    const start = Date.now();
    while ((await Promise.all(pair.map(loadErrors))).some((n, i) => n <= before[i]!)) {
      expect(Date.now() - start).toBeLessThan(NEW_LIMITS_WITHIN_MS);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await Promise.all(pair.map((r) => limitOn(r, 'cities')))).toEqual([20, 20]);
  });

  it('a ConfigMap update (the `..data` symlink swapped to a new directory) reaches every replica', async () => {
    const mount = join(root, 'configmap');
    mkdirSync(join(mount, '..2026_12_03_v1'), { recursive: true });
    writeFileSync(join(mount, '..2026_12_03_v1', 'limits.yaml'), config('mounted', 3));
    symlinkSync('..2026_12_03_v1', join(mount, '..data'));
    symlinkSync('..data/limits.yaml', join(mount, 'limits.yaml'));
    const pair = await replicas({ ERL_CONFIG_DIR: mount });
    expect(await Promise.all(pair.map((r) => limitOn(r, 'mounted')))).toEqual([3, 3]);

    // What the kubelet does: write the new version beside the old, then rename a new link over `..data`.
    mkdirSync(join(mount, '..2026_12_03_v2'));
    writeFileSync(join(mount, '..2026_12_03_v2', 'limits.yaml'), config('mounted', 4));
    symlinkSync('..2026_12_03_v2', join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    const ms = await untilEveryReplica(pair, 'mounted', 4);
    console.log(`ConfigMap ..data swap: every replica on the new limit after ${ms} ms`);
  });

  it('RUNTIME_ROOT/RUNTIME_SUBDIRECTORY as that service reads them, with RUNTIME_ROOT a swapped symlink', async () => {
    const runtime = join(root, 'runtime');
    for (const [version, limit] of [
      ['v1', 5],
      ['v2', 6],
    ] as const) {
      mkdirSync(join(runtime, version, 'ratelimit', 'config'), { recursive: true });
      writeFileSync(join(runtime, version, 'ratelimit', 'config', 'a.yaml'), config('runtime', limit));
      writeFileSync(join(runtime, version, 'ratelimit', 'config', '.hidden.yaml'), config('hidden', 1));
    }
    symlinkSync('v1', join(runtime, 'current'));
    const pair = await replicas({
      RUNTIME_ROOT: join(runtime, 'current'),
      RUNTIME_SUBDIRECTORY: 'ratelimit',
      RUNTIME_IGNOREDOTFILES: 'true',
    });
    expect(await Promise.all(pair.map((r) => limitOn(r, 'runtime')))).toEqual([5, 5]);
    expect(await limitOn(pair[0]!, 'hidden')).toBeNull(); // RUNTIME_IGNOREDOTFILES

    symlinkSync('v2', join(runtime, 'next'));
    renameSync(join(runtime, 'next'), join(runtime, 'current'));
    const ms = await untilEveryReplica(pair, 'runtime', 6);
    console.log(`RUNTIME_ROOT symlink swap: every replica on the new limit after ${ms} ms`);
  });

  it('with no tiers stored at all, a loaded directory makes the replica ready (/readyz, /healthcheck)', async () => {
    const empty = await freshPostgres();
    await migrate(empty.sql);
    await empty.sql.close();
    const dir = join(root, 'only-directory');
    mkdirSync(dir);
    writeFileSync(join(dir, 'cities.yaml'), config('only', 2));
    const replica = await startTollgate({
      accounts: [],
      store: 'memory',
      env: { ERL_CONFIG_DIR: dir },
      database: { url: empty.url, keys: {}, accounts: {}, keyIds: {}, drop: () => empty.drop() },
    });
    try {
      const base = `http://127.0.0.1:${replica.httpPort}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${base}/healthcheck`)).text()).toBe('OK');
      expect(await limitOn(replica, 'only')).toBe(2);
    } finally {
      await replica.stop();
      await empty.drop();
    }
  });
});
