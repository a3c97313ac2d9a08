// A flood of random keys against the real app (Postgres, Redis): malformed keys are refused before any
// lookup, well-formed unknown keys by the in-process key filter — only its false positives reach Postgres —
// while known keys stay at 0 lookups and a key created on another replica works at once.

import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKey } from '../../src/accounts/api-keys.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { generateApiKey } from '../../src/keys/api-key.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;

/** Key lookups that reached Postgres so far (the timed inner key store, behind cache and filter). */
async function postgresKeyLookups(): Promise<number> {
  const text = await tg.app.metrics.registry.metrics();
  const line = text.match(
    /^tollgate_store_duration_seconds_count\{store="postgres",operation="find_key"\} (\d+)$/m,
  );
  return Number(line?.[1] ?? 0);
}

async function check(key: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
    headers: { 'x-api-key': key, 'x-original-uri': '/v1/things', 'x-original-method': 'GET' },
  });
  await res.arrayBuffer();
  return res.status;
}

/** `keys` through /check, `concurrency` at a time; the statuses seen. */
async function flood(keys: string[], concurrency: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const status = await check(keys[next++]!);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

beforeAll(async () => {
  tg = await startTollgate({ accounts: [{ label: 'pro', tier: 'enterprise' }] });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
});

describe('a flood of random keys', () => {
  test('2,000 random well-formed keys: at most 40 Postgres lookups (2 %), all refused', async () => {
    expect(await check(tg.keys.pro!)).toBe(204);
    const before = await postgresKeyLookups();
    const keys = Array.from({ length: 2_000 }, () => generateApiKey().key);
    const started = Date.now();
    const statuses = await flood(keys, 100);
    const lookups = (await postgresKeyLookups()) - before;
    console.log(
      `key flood: ${keys.length} distinct random well-formed keys → ${lookups} Postgres key lookups ` +
        `(${((lookups / keys.length) * 100).toFixed(2)} % of distinct unknown keys) in ${Date.now() - started} ms`,
    );
    expect(Object.fromEntries(statuses)).toEqual({ 401: 2_000 });
    expect(lookups).toBeLessThanOrEqual(40);
  });

  test('malformed keys are refused before hashing: no lookup at all', async () => {
    const before = await postgresKeyLookups();
    const junk = Array.from(
      { length: 300 },
      (_, i) =>
        [`tg_live_${'0'.repeat(32)}${i}`, `sk_${randomInt(1e9)}`, `tg_live_${String(i).padStart(32, '8')}`][
          i % 3
        ]!,
    );
    expect(Object.fromEntries(await flood(junk, 50))).toEqual({ 401: 300 });
    expect((await postgresKeyLookups()) - before).toBe(0);
  });

  test('a known key: 0 Postgres lookups once cached', async () => {
    expect(await check(tg.keys.pro!)).toBe(204);
    const before = await postgresKeyLookups();
    for (let i = 0; i < 50; i++) expect(await check(tg.keys.pro!)).toBe(204);
    expect((await postgresKeyLookups()) - before).toBe(0);
  });

  test('a key created on another replica moments ago works on its first use here', async () => {
    const id = tg.accounts.pro!;
    const firstUseMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      // Another process's transaction: only the change notification tells this replica about it.
      const created = await createKey(sql, { accountId: id });
      const started = performance.now();
      expect(await check(created.key)).toBe(204);
      firstUseMs.push(performance.now() - started);
    }
    firstUseMs.sort((a, b) => a - b);
    // Under 100 ms (the filter's grace): the notification had arrived before the request did.
    console.log(
      `first use right after creation elsewhere: median ${firstUseMs[10]!.toFixed(1)} ms, max ${firstUseMs[19]!.toFixed(1)} ms`,
    );
  });

  test('a key whose notification was lost is read when LISTEN comes back', async () => {
    // Inserted without pg_notify: as if created while this replica's LISTEN connection was down.
    const { key, hash, prefix } = generateApiKey();
    await sql.query('insert into api_keys (id, account_id, key_hash, prefix) values ($1, $2, $3, $4)', [
      `key_${'q'.repeat(16)}`,
      tg.accounts.pro,
      hash,
      prefix,
    ]);
    expect(await check(key)).toBe(401);
    const [killed] = await sql.query<{ n: number }>(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
    );
    expect(killed!.n).toBe(1);
    const deadline = Date.now() + 10_000;
    let status = 401;
    while (status !== 204 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await check(key);
    }
    expect(status).toBe(204);
  });
});
