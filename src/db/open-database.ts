// DatabaseConfig → Sql: Postgres when DATABASE_URL is set, else embedded PGlite owned by this process.

import type { DatabaseConfig } from '../config.js';
import { lockDataDir } from './data-dir-lock.js';
import { PostgresSql } from './postgres-sql.js';
import type { Sql } from './sql.js';

export interface OpenDatabase {
  sql: Sql;
  /** Gives up ownership of the embedded data directory (no-op for Postgres). */
  release: () => void;
}

export async function openDatabase(config: DatabaseConfig): Promise<OpenDatabase> {
  if (config.kind === 'postgres') return { sql: new PostgresSql(config.url), release: () => {} };
  const release = lockDataDir(config.dataDir);
  try {
    // PGlite (a WASM Postgres) is loaded only here: a process with DATABASE_URL never holds it.
    const { PgliteSql } = await import('./pglite-sql.js');
    return { sql: await PgliteSql.open(`${config.dataDir}/pglite`), release };
  } catch (err) {
    release();
    throw err;
  }
}
