// Test databases: a fresh Postgres database per test file (no shared state) or an in-memory PGlite.

import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PgliteSql } from '../../src/db/pglite-sql.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import type { Sql } from '../../src/db/sql.js';

/** Every migration under src/db/migrations, in the order migrate() applies them. */
export const MIGRATIONS = readdirSync(new URL('../../src/db/migrations/', import.meta.url))
  .filter((file) => file.endsWith('.sql'))
  .sort()
  .map((file) => file.replace(/\.sql$/, ''));

/** The local Postgres (trust auth) that tests create their databases in. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface FreshPostgres {
  url: string;
  sql: Sql;
  /** Closes `sql` and drops the database (other connections are terminated). */
  drop(): Promise<void>;
}

async function admin<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = new PostgresSql(POSTGRES_ADMIN_URL, { max: 1, connectTimeoutSec: 5 });
  try {
    return await fn(sql);
  } catch (err) {
    throw new Error(
      `Postgres is needed by this test and is not usable at ${POSTGRES_ADMIN_URL} (set TEST_POSTGRES_URL): ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await sql.close();
  }
}

export async function freshPostgres(): Promise<FreshPostgres> {
  const name = `tg_test_${randomBytes(6).toString('hex')}`;
  await admin((sql) => sql.exec(`create database ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const sql = new PostgresSql(url.toString());
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.close();
      await admin((a) => a.exec(`drop database if exists ${name} with (force)`));
    },
  };
}

export function freshPglite(): Promise<Sql> {
  return PgliteSql.open();
}
