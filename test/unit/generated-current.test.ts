// CI guard: src/generated must be exactly what `npm run proto:gen` produces from proto/ today.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const committed = join(root, 'src/generated');
const fresh = mkdtempSync(join(tmpdir(), 'tollgate-gen-'));

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort();
}

describe('generated protobuf code', () => {
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it('is current with proto/ and buf.gen.yaml (else run `npm run proto:gen`)', () => {
    execFileSync(process.execPath, [join(root, 'scripts/gen-proto.mjs'), fresh], {
      cwd: root,
      stdio: 'pipe',
    });
    const expected = listFiles(fresh);
    expect(expected.length).toBeGreaterThan(10);
    const actual = listFiles(committed);
    const hint = 'src/generated is stale: run `npm run proto:gen` and commit the result';
    expect(actual, `${hint} (file list differs)`).toEqual(expected);
    const differing = expected.filter(
      (name) => readFileSync(join(fresh, name), 'utf8') !== readFileSync(join(committed, name), 'utf8'),
    );
    expect(differing, `${hint}; differing files under ${relative(root, committed)}`).toEqual([]);
  });
});
