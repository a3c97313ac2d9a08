// Build freshness: one hash over everything `npm run build` reads, stamped into dist/ by the build.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const STAMP = 'dist/.source-hash';
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/copy-assets.mjs'];

/** Contents, not mtimes: a checkout or a copy that keeps old times still counts as a change. */
export function sourceHash(root = '.') {
  const hash = createHash('sha256');
  const files = [...INPUTS, ...walk(join(root, 'src'), 'src')].sort();
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(root, file)))
      .update('\0');
  return hash.digest('hex');
}

function walk(dir, rel) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name), `${rel}/${entry.name}`) : [`${rel}/${entry.name}`],
  );
}
