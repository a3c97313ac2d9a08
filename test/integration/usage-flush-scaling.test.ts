// The usage flusher's Redis cost follows the accounts with new usage: many accounts per script call and
// no SCAN between full scans; usage nobody here counted (a replica that died) is found by the next one.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createAccount } from '../../src/accounts/create-account.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { accountsPerScript, RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { CountedAccounts } from '../../src/usage/counted-accounts.js';
import { startUsageFlusher, type UsageFlusher } from '../../src/usage/start-usage-flusher.js';
import { chatCall } from '../support/decide-inputs.js';
import { freshPostgres, type FreshPostgres } from '../support/databases.js';
import { startRedisServer, type RedisProcess } from '../support/redis-server.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

const ACCOUNTS = 1_000;
const FULL_SCAN_MS = 60_000;

let server: RedisProcess;
let db: FreshPostgres;
let decisions: Redis;
let background: Redis;
let ids: string[];
let clock = Date.now();
const counted = new CountedAccounts();
let counters: RedisCounterStore;
let flusher: UsageFlusher;

beforeAll(async () => {
  server = await startRedisServer();
  db = await freshPostgres();
  await migrate(db.sql);
  await savePolicy(db.sql, parsePolicy(DEMO_POLICY_YAML));
  ids = [];
  for (let i = 0; i < ACCOUNTS; i += 50) {
    const made = await Promise.all(
      Array.from({ length: 50 }, () => createAccount(db.sql, { name: 'scale', tier: 'free' })),
    );
    ids.push(...made.map((a) => a.id));
  }
  decisions = new Redis(server.url);
  background = new Redis(server.url);
  counters = new RedisCounterStore({ redis: decisions, counted });
  const source = new RedisUsageSource(background, { counted, now: () => clock });
  flusher = startUsageFlusher({
    sources: [source],
    sql: db.sql,
    logger: createLogger('silent'),
    intervalMs: 3_600_000,
  });
}, 120_000);

afterAll(async () => {
  await flusher?.stop();
  decisions?.disconnect();
  background?.disconnect();
  await server?.stop();
  await db?.drop();
});

async function decideEach(store: RedisCounterStore, accounts: string[]): Promise<void> {
  for (let i = 0; i < accounts.length; i += 100)
    await Promise.all(accounts.slice(i, i + 100).map((id) => store.decide(chatCall(id))));
}

/** Calls per command since the last CONFIG RESETSTAT. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await background.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, n] of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[name!] = Number(n);
  return calls;
}

async function callsInPostgres(): Promise<number> {
  const [row] = await db.sql.query<{ calls: number }>(
    'select coalesce(sum(calls), 0)::int as calls from usage_monthly where account_id = any($1::text[])',
    [ids],
  );
  return row!.calls;
}

test(`${ACCOUNTS} accounts with new usage: a take per ${accountsPerScript(ACCOUNTS)} accounts, an ack per 100, no SCAN`, async () => {
  await decideEach(counters, ids);
  expect((await flusher.flushNow()).batches).toBe(ACCOUNTS); // the first flush also scans
  await decideEach(counters, ids);
  await background.config('RESETSTAT');
  expect(await flusher.flushNow()).toEqual({ batches: ACCOUNTS, failed: false });
  const calls = await commandCalls();
  const scripts = (calls.evalsha ?? 0) + (calls.eval ?? 0);
  // 100 take calls of 10 accounts each (small calls, since there are few accounts), and one ack call
  // per Postgres transaction of 100 (an ack costs Redis little per account).
  expect(scripts).toBe(ACCOUNTS / accountsPerScript(ACCOUNTS) + ACCOUNTS / 100);
  expect(calls.scan).toBeUndefined();
  expect(await callsInPostgres()).toBe(2 * ACCOUNTS);
  // Nothing new: the next flush costs Redis nothing at all.
  await background.config('RESETSTAT');
  expect(await flusher.flushNow()).toEqual({ batches: 0, failed: false });
  const idle = await commandCalls();
  expect(Object.keys(idle).filter((name) => name !== 'config|resetstat' && name !== 'info')).toEqual([]);
}, 60_000);

test('usage another process counted (a replica that died) is flushed by the next full scan', async () => {
  const other = new RedisCounterStore({ redis: new Redis(server.url) });
  const orphan = ids[0]!;
  const before = await callsInPostgres();
  await other.decide(chatCall(orphan));
  await other.close();
  expect((await flusher.flushNow()).batches).toBe(0);
  expect(await background.exists(`{a:${orphan}}:usage`)).toBe(1);
  clock += FULL_SCAN_MS;
  expect((await flusher.flushNow()).batches).toBe(1);
  expect(await background.exists(`{a:${orphan}}:usage`)).toBe(0);
  expect(await callsInPostgres()).toBe(before + 1);
}, 60_000);
