// bin/tollgate-node: node with --single-threaded-gc when the process may use one CPU or less (an
// affinity of one core, or a cgroup quota), V8's default otherwise; TOLLGATE_GC overrides.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const LAUNCHER = new URL('../../bin/tollgate-node', import.meta.url).pathname;

/** The node options the launcher chose (besides `-p`), its exit code and its stderr. */
function launch(env: Record<string, string>, cores?: string) {
  const node = [LAUNCHER, '-p', "process.execArgv.filter((a) => a.startsWith('--')).join(' ')"];
  const [cmd, args] = cores ? ['taskset', ['-c', cores, ...node]] : [LAUNCHER, node.slice(1)];
  const run = spawnSync(cmd as string, args as string[], {
    env: { PATH: process.env.PATH!, TOLLGATE_CGROUP_ROOT: emptyCgroup, ...env },
    encoding: 'utf8',
  });
  return { flags: run.stdout.trim(), status: run.status, stderr: run.stderr };
}

/** A cgroup root with cpu.max (v2) or the v1 quota files holding `quota` and `period`. */
function cgroup(version: 1 | 2, quota: string, period = '100000'): string {
  const root = mkdtempSync(join(tmpdir(), 'tg-cgroup-'));
  if (version === 2) writeFileSync(join(root, 'cpu.max'), `${quota} ${period}\n`);
  else {
    mkdirSync(join(root, 'cpu'));
    writeFileSync(join(root, 'cpu/cpu.cfs_quota_us'), `${quota}\n`);
    writeFileSync(join(root, 'cpu/cpu.cfs_period_us'), `${period}\n`);
  }
  return root;
}
const emptyCgroup = mkdtempSync(join(tmpdir(), 'tg-cgroup-'));

describe('bin/tollgate-node', () => {
  test('is executable: the image and npm start run it directly', () => {
    expect(statSync(LAUNCHER).mode & 0o111).toBe(0o111);
  });

  test('one core of affinity: single-threaded GC; TOLLGATE_GC=concurrent keeps V8 default', () => {
    expect(launch({}, '0')).toMatchObject({ flags: '--single-threaded-gc', status: 0 });
    expect(launch({ TOLLGATE_GC: 'concurrent' }, '0')).toMatchObject({ flags: '', status: 0 });
  });

  test('two cores and no quota: V8 default; TOLLGATE_GC=single forces it', () => {
    expect(availableParallelism(), 'this test needs a machine with 2 cores or more').toBeGreaterThanOrEqual(
      2,
    );
    expect(launch({}, '0,1')).toMatchObject({ flags: '', status: 0 });
    expect(launch({ TOLLGATE_GC: 'single' }, '0,1')).toMatchObject({
      flags: '--single-threaded-gc',
      status: 0,
    });
  });

  test('a cgroup quota of one CPU or less counts as one core (v2 and v1); more, or none, does not', () => {
    const cases: Array<[string, string]> = [
      [cgroup(2, '50000'), '--single-threaded-gc'],
      [cgroup(2, '100000'), '--single-threaded-gc'],
      [cgroup(2, '150000'), ''],
      [cgroup(2, 'max'), ''],
      [cgroup(1, '100000'), '--single-threaded-gc'],
      [cgroup(1, '-1'), ''],
    ];
    for (const [root, flags] of cases)
      expect(launch({ TOLLGATE_CGROUP_ROOT: root }, '0,1'), root).toMatchObject({ flags, status: 0 });
  });

  test('an unknown TOLLGATE_GC is refused, naming the variable', () => {
    const run = launch({ TOLLGATE_GC: 'fast' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('TOLLGATE_GC must be auto, single or concurrent, not "fast"');
  });
});
