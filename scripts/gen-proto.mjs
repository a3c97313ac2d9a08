#!/usr/bin/env node
// Regenerates the ts-proto code from proto/ into <outDir> (default src/generated) with buf and the
// options of buf.gen.yaml: no system protoc, no BSR.
//
// buf is run through `npx` at a pinned version instead of being a devDependency: its npm package
// pulls one optional binary package per platform, and `npm ci` refuses a lockfile that lacks any of
// them — which happens whenever the registry in use does not serve every platform's build.
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
const BUF = '@bufbuild/buf@1.75.0';
execFileSync('npx', ['--yes', BUF, 'generate', '--template', JSON.stringify(template)], {
  cwd: root,
  stdio: 'inherit',
});
