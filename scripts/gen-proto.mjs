#!/usr/bin/env node
// Regenerates the ts-proto code from proto/ into <outDir> (default src/generated) with buf and the
// options of buf.gen.yaml: no system protoc, no BSR.
//
// buf comes from the pinned devDependency @bufbuild/buf (its binary ships in a per-platform npm
// package, all of which the lockfile records), so the freshness test runs offline.
// Usage: node scripts/gen-proto.mjs <outDir>

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(root, 'src/generated'));

// `clean: true` below empties outDir: never let that be the repo or one of its parents.
if (!relative(outDir, root).startsWith('..') || relative(root, outDir) === '') {
  console.error(`gen-proto: refusing to generate into ${outDir} (it would wipe the repository)`);
  process.exit(2);
}

const template = parse(readFileSync(join(root, 'buf.gen.yaml'), 'utf8'));
for (const plugin of template.plugins) plugin.out = relative(root, outDir) || '.';

// buf accepts the template inline as JSON; `clean: true` empties outDir first, so deleted protos
// leave no stale files behind.
const BUF = join(root, 'node_modules/.bin/buf');
execFileSync(BUF, ['generate', '--template', JSON.stringify(template)], {
  cwd: root,
  stdio: 'inherit',
});
