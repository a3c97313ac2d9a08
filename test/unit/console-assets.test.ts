// The console's files (src/console, copied to dist/console by the build): small, local, no inline code.

import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';

const DIR = new URL('../../src/console/', import.meta.url);
const files = readdirSync(DIR).map((name) => ({ name, text: readFileSync(new URL(name, DIR), 'utf8') }));

test('all console assets together are at most 200 kB gzipped', () => {
  const gzipped = files.reduce((sum, f) => sum + gzipSync(f.text, { level: 9 }).length, 0);
  expect(files.length).toBeGreaterThan(3);
  expect(gzipped).toBeLessThanOrEqual(200 * 1024);
});

test('every asset comes from the sidecar: no third-party origin, no inline script or style attribute', () => {
  for (const { name, text } of files) {
    expect(text, name).not.toMatch(/(src|href)=["']https?:/);
    expect(text, name).not.toMatch(/\bimport\s[^;]*from\s+["']https?:/);
    expect(text, name).not.toMatch(/fetch\(\s*["'`]https?:/);
  }
  const html = files.find((f) => f.name === 'index.html')!.text;
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/\sstyle=|\son\w+=/);
});

test('the build copies the console next to the compiled admin server', () => {
  const copy = readFileSync(new URL('../../scripts/copy-assets.mjs', import.meta.url), 'utf8');
  expect(copy).toContain("'src/console', 'dist/console'");
});
