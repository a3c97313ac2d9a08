// The layering of src/, checked on every test run: no import cycle between files or between folders,
// and a core that imports no transport and no driver. Discipline alone let eight folders knot together.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** Folders that hold the rules of a decision: they know nothing of wires, drivers or process wiring. */
const CORE = ['access', 'policy', 'keys'];
/** Packages and folders a core file must not import. */
const FORBIDDEN_IN_CORE = [
  /^ioredis$/,
  /^postgres$/,
  /^@electric-sql\//,
  /^@grpc\//,
  /^node:http2?$/,
  /^prom-client$/,
  /^src\/(transports|generated|cli)\//,
  // The seams (db/sql.ts, counters/counter-store.ts) are fine; their implementations are not.
  /^src\/db\/(postgres-sql|pglite-sql|open-database)\.ts$/,
  /^src\/counters\/(redis-|memory-|open-|fail-safe-)/,
];

interface SourceFile {
  /** Path relative to the repository, e.g. `src/policy/policy.ts`. */
  path: string;
  /** Imported specifiers: bare package names, or repository-relative `src/…` paths for relative ones. */
  imports: string[];
}

function sourceFiles(dir = SRC): SourceFile[] {
  const files: SourceFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'generated') files.push(...sourceFiles(full));
    } else if (entry.name.endsWith('.ts')) {
      files.push({ path: relative(join(SRC, '..'), full), imports: importsOf(full) });
    }
  }
  return files;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((spec) =>
    spec.startsWith('.')
      ? relative(join(SRC, '..'), normalize(join(dirname(file), spec))).replace(/\.js$/, '.ts')
      : spec,
  );
}

/** A file's node in the folder graph: its folder under src/, or the file itself at the top of src/. */
function folderOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? parts[1]! : path;
}

/** Every strongly connected set of more than one node (Tarjan), as sorted lists. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function graphOf(files: SourceFile[], node: (path: string) => string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const edges = graph.get(node(file.path)) ?? new Set<string>();
    graph.set(node(file.path), edges);
    for (const target of file.imports.filter(
      (i) => i.startsWith('src/') && !i.startsWith('src/generated/'),
    )) {
      if (node(target) !== node(file.path)) edges.add(node(target));
    }
  }
  return graph;
}

describe('the layering of src/', () => {
  const files = sourceFiles();

  it('reads the tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.find((f) => f.path === 'src/app.ts')?.imports).toContain('src/config.ts');
  });

  it('has no import cycle between files', () => {
    expect(cycles(graphOf(files, (path) => path))).toEqual([]);
  });

  it('has no import cycle between folders (a file at the top of src/ is its own node)', () => {
    expect(cycles(graphOf(files, folderOf))).toEqual([]);
  });

  it('keeps the core free of transports, drivers and metrics', () => {
    const offences = files
      .filter((f) => CORE.includes(folderOf(f.path)))
      .flatMap((f) =>
        f.imports.filter((i) => FORBIDDEN_IN_CORE.some((re) => re.test(i))).map((i) => `${f.path} → ${i}`),
      );
    expect(offences).toEqual([]);
  });

  it('finds a cycle when there is one (the checker itself works)', () => {
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('loads stripe and PGlite only where they are used (a static import would put them in every process)', () => {
    // Value imports only: `import type` is erased, and import() loads when it runs.
    const STATIC = /^\s*import\s+(?!type\b)[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm;
    const heavy = (spec: string) =>
      spec === 'stripe' || spec.startsWith('@electric-sql/') || spec.endsWith('/pglite-sql.js');
    const offences = files.flatMap((f) =>
      [...readFileSync(join(SRC, '..', f.path), 'utf8').matchAll(STATIC)]
        .map((m) => m[1]!)
        .filter(heavy)
        // pglite-sql.ts is the driver itself, loaded by open-database.ts with import().
        .filter((spec) => !(f.path === 'src/db/pglite-sql.ts' && spec.startsWith('@electric-sql/')))
        .map((spec) => `${f.path} → ${spec}`),
    );
    expect(offences).toEqual([]);
  });

  it('reads process.env only in src/config.ts', () => {
    const readers = files
      .filter((f) => f.path !== 'src/config.ts')
      .filter((f) => /process\.env\b/.test(readFileSync(join(SRC, '..', f.path), 'utf8')))
      .map((f) => f.path);
    expect(readers).toEqual([]);
  });
});
