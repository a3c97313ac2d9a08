// `npm install` must not rewrite the committed package-lock.json (it did when the lockfile lacked the
// root's `hasInstallScript` for `postinstall`). npm recomputes the lockfile here from package.json in
// a scratch copy (--package-lock-only: node_modules untouched), so the test is safe beside others.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ROOT } from '../support/processes.js';

const scratch = mkdtempSync(join(tmpdir(), 'tollgate-lockfile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('npm install leaves package-lock.json as committed', () => {
  for (const file of ['package.json', 'package-lock.json'])
    copyFileSync(join(ROOT, file), join(scratch, file));
  execFileSync(
    'npm',
    ['install', '--package-lock-only', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: scratch, stdio: 'pipe', timeout: 120_000 },
  );
  const committed = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  const recomputed = readFileSync(join(scratch, 'package-lock.json'), 'utf8');
  expect(recomputed, 'npm install would change package-lock.json: run it and commit the result').toBe(
    committed,
  );
  expect(JSON.parse(committed).packages[''].hasInstallScript).toBe(true);
}, 130_000);
