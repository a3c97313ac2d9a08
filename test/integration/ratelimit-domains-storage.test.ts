// `ratelimit_domains` in the database (migration 002): savePolicy/loadPolicy round-trips on Postgres and PGlite.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import type { Policy } from '../../src/policy/policy.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';
import { importEnvoyRatelimit } from '../../src/rls/import-envoy-ratelimit.js';
import { freshPglite, freshPostgres } from '../support/databases.js';
import { demoPolicy } from '../support/policies.js';

const DIR = new URL('../fixtures/envoy-ratelimit/valid/', import.meta.url);
const { domains } = importEnvoyRatelimit(
  readdirSync(DIR)
    .sort()
    .map((name) => ({ name, text: readFileSync(new URL(name, DIR), 'utf8') })),
);

async function roundTrip(sql: Sql): Promise<void> {
  await migrate(sql);
  const withRules: Policy = { ...demoPolicy(), ratelimitDomains: domains };
  await savePolicy(sql, withRules);
  const loaded = await loadPolicy(sql);
  expect(loaded).toStrictEqual(withRules);
  expect(Object.keys(loaded.ratelimitDomains!)).toEqual(Object.keys(domains));
  // Replacing the policy with one without rules removes them.
  await savePolicy(sql, demoPolicy());
  expect(await loadPolicy(sql)).toStrictEqual(demoPolicy());
}

describe('ratelimit_domains storage', () => {
  test('Postgres', async () => {
    const db = await freshPostgres();
    try {
      await roundTrip(db.sql);
    } finally {
      await db.drop();
    }
  });

  test('PGlite', async () => {
    const sql = await freshPglite();
    try {
      await roundTrip(sql);
    } finally {
      await sql.close();
    }
  });
});
