// `npm start` on a built, unchanged tree: no tsc rebuild (prestart compares a hash of the build inputs
// with the one stamped into dist/), so it is ready about as soon as `node dist/main.js` is. Prints the
// times (target: ready in ≤ 3 s on an idle machine, with the embedded database already initialised).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations.
import { sourceHash, STAMP } from '../../scripts/source-hash.mjs';
import { freePort } from '../support/free-port.js';
import { ROOT } from '../support/processes.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-npm-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Spawns `command`, polls /readyz until 200, stops it; resolves with the ms to ready and the output. */
async function timeToReady(command: string, args: string[]): Promise<{ ms: number; output: string }> {
  const httpPort = await freePort();
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true, // npm runs node under a shell: the whole group is stopped below
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      DATA_DIR: dataDir,
      HTTP_PORT: String(httpPort),
      GRPC_PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    while (performance.now() - started < 80_000) {
      if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode}:\n${output}`);
      const status = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return { ms: Math.round(performance.now() - started), output };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${command} not ready after 80 s:\n${output}`);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

test('npm start skips the build when dist/ is current', async () => {
  expect(
    readFileSync(join(ROOT, STAMP), 'utf8').trim(),
    'dist/ is older than the sources: run `npm run build` (npm test does it in pretest)',
  ).toBe((sourceHash as (root: string) => string)(ROOT));
  const builtAt = statSync(join(ROOT, 'dist/main.js')).mtimeMs;
  const first = await timeToReady(process.execPath, ['dist/main.js']);
  const node = await timeToReady(process.execPath, ['dist/main.js']);
  const npm = await timeToReady('npm', ['start']);
  console.log(
    `ready: first start (embedded database initialised) ${first.ms} ms; then node dist/main.js ${node.ms} ms, npm start ${npm.ms} ms (target ≤ 3000 ms)`,
  );
  expect(npm.output).toContain('dist/ is current');
  expect(npm.output).not.toContain('tsc -p');
  expect(statSync(join(ROOT, 'dist/main.js')).mtimeMs).toBe(builtAt);
  // What prestart adds is npm itself and a hash of the sources, not a ~10 s tsc run.
  expect(npm.ms - node.ms, `${npm.ms} vs ${node.ms}`).toBeLessThan(5_000);
}, 240_000);
