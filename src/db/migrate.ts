// Start-up / `tollgate migrate`: applies pending SQL migrations in order, each in its own transaction.

import { readdir, readFile } from 'node:fs/promises';
import type { Sql } from './sql.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** pg_advisory_xact_lock key: serialises replicas migrating at the same time (PGlite: harmless). */
const MIGRATION_LOCK = 7_326_104_551;

/** Returns the versions applied by this call (file names without `.sql`), in order. */
export async function migrate(sql: Sql, dir: URL = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  for (const file of files) {
    const version = file.slice(0, -'.sql'.length);
    const text = await readFile(new URL(file, dir), 'utf8');
    const done = await sql.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
      await tx.exec(
        'create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())',
      );
      const rows = await tx.query('select 1 from schema_migrations where version = $1', [version]);
      if (rows.length > 0) return false;
      await tx.exec(text);
      await tx.query('insert into schema_migrations (version) values ($1)', [version]);
      return true;
    });
    if (done) applied.push(version);
  }
  return applied;
}
