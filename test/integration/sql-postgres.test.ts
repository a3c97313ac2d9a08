// The Sql contract on a real Postgres (a fresh database for this file), plus what only a server can do: fail.

import { describe, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { StoreUnavailable } from '../../src/errors.js';
import { SqlKeyStore } from '../../src/keys/sql-key-store.js';
import { sqlStoreContract } from '../contracts/sql-store.contract.js';
import { usageBooksContract } from '../contracts/usage-books.contract.js';
import { freshPostgres } from '../support/databases.js';

sqlStoreContract('postgres', async () => {
  const db = await freshPostgres();
  return { sql: db.sql, close: db.drop };
});

usageBooksContract('postgres', async () => {
  const db = await freshPostgres();
  return { sql: db.sql, close: db.drop };
});

describe('PostgresSql when Postgres is unreachable', () => {
  test('queries and key lookups fail with StoreUnavailable(postgres)', async () => {
    const sql = new PostgresSql('postgres://postgres@127.0.0.1:1/test', { connectTimeoutSec: 2 });
    try {
      const err = await sql.query('select 1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailable);
      expect((err as StoreUnavailable).store).toBe('postgres');
      await expect(new SqlKeyStore(sql).findByHash('0'.repeat(64))).rejects.toBeInstanceOf(StoreUnavailable);
    } finally {
      await sql.close();
    }
  });
});
