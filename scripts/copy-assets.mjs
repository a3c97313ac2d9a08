// Build step: copies the non-TypeScript runtime assets (Lua scripts, SQL migrations, the console's files)
// next to the compiled JS, then stamps dist/ with the hash of its inputs.
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAMP, sourceHash } from './source-hash.mjs';

const assets = [
  ['src/counters', 'dist/counters', (f) => f.endsWith('.lua')],
  ['src/db/migrations', 'dist/db/migrations', (f) => f.endsWith('.sql')],
  ['src/policy', 'dist/policy', (f) => f.endsWith('.yaml')],
  ['src/console', 'dist/console', (f) => /\.(html|js|css)$/.test(f)],
];
for (const [from, to, keep] of assets) {
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from).filter(keep)) cpSync(join(from, file), join(to, file));
}
// Last step of the build: `npm start` skips the next build while this still matches (build-if-stale.mjs).
writeFileSync(STAMP, `${sourceHash()}\n`);
