// The Sql contract on embedded PGlite (in memory), plus persistence in a data directory.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { PgliteSql } from '../../src/db/pglite-sql.js';
import { sqlStoreContract } from '../contracts/sql-store.contract.js';
import { usageBooksContract } from '../contracts/usage-books.contract.js';
import { freshPglite, MIGRATIONS } from '../support/databases.js';

sqlStoreContract('pglite', async () => {
  const sql = await freshPglite();
  return { sql, close: () => sql.close() };
});

usageBooksContract('pglite', async () => {
  const sql = await freshPglite();
  return { sql, close: () => sql.close() };
});

test('PGlite in a data directory keeps its data across restarts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tg-pglite-'));
  try {
    const first = await PgliteSql.open(dir);
    expect(await migrate(first)).toEqual(MIGRATIONS);
    await first.close();
    const second = await PgliteSql.open(dir);
    expect(await migrate(second)).toEqual([]);
    expect(await second.query('select version from schema_migrations order by version')).toEqual(
      MIGRATIONS.map((version) => ({ version })),
    );
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
