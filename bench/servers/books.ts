// The floor with Redis and the books, for the fixed-rate section: batched-incr.ts's count, plus the
// usage Tollgate keeps. Each call also records one call of usage for an account of its own, in the same
// batched script call (as decide.lua does), and Tollgate's own usage flusher, in this process and on
// its thread as in Tollgate, takes that usage from Redis, writes it into Postgres (with Tollgate's
// quota thresholds) and acks it every flush interval. What Tollgate's tail shows above this one is
// its decision, not the books.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { DecideBatcher, MAX_BATCH, MAX_IN_FLIGHT } from '../../src/counters/decide-batcher.js';
import { evalshaEncoded } from '../../src/counters/encoded-evalsha.js';

type Dist = {
  config: typeof import('../../src/config.js');
  usageSource: typeof import('../../src/counters/redis-usage-source.js');
  sql: typeof import('../../src/db/postgres-sql.js');
  logger: typeof import('../../src/logger.js');
  counted: typeof import('../../src/usage/counted-accounts.js');
  flusher: typeof import('../../src/usage/start-usage-flusher.js');
};

/** Tollgate's compiled modules (their Lua scripts sit next to them in dist/). */
const fromDist = (path: string) => import(new URL(`../../../../dist/${path}`, import.meta.url).href);

/** Per call: KEYS[2i-1] the counter, KEYS[2i] the account's usage hash; ARGV[1] the usage field. */
const SOURCE = `local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('INCR', KEYS[i])
  redis.call('HINCRBY', KEYS[i + 1], ARGV[1], 1)
end
return out
`;
const SCRIPT = { source: SOURCE, sha: createHash('sha1').update(SOURCE).digest('hex') };
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** `acc_books` + i in 11 base32 digits: an account id of Tollgate's shape, recognizably the bench's. */
const booksAccount = (i: number) => {
  let digits = '';
  for (let n = i, d = 0; d < 11; d++, n = Math.floor(n / 32)) digits = BASE32[n % 32] + digits;
  return `acc_books${digits}`;
};
/** The endpoint the usage is recorded under. */
const ENDPOINT = 'books';

export interface BooksOptions {
  redisUrl: string;
  databaseUrl: string;
  /** The keys the load sends (one per line): key i records its usage for an account `acc_books…` of its own. */
  keysFile: string;
  /** A tier of the bench policy for the accounts. */
  tier: string;
  /** The Tollgate under test's USAGE_FLUSH_MS, when the bench sets one. */
  flushMs: string | undefined;
}

/** Counts the x-api-key in Redis and records a call of usage for its account; flushes it as Tollgate does. */
export async function booksCounter(options: BooksOptions): Promise<(key: string) => Promise<unknown>> {
  const dist: Dist = {
    config: await fromDist('config.js'),
    usageSource: await fromDist('counters/redis-usage-source.js'),
    sql: await fromDist('db/postgres-sql.js'),
    logger: await fromDist('logger.js'),
    counted: await fromDist('usage/counted-accounts.js'),
    flusher: await fromDist('usage/start-usage-flusher.js'),
  };
  const keys = readFileSync(options.keysFile, 'utf8').split('\n').filter(Boolean);
  const accountOf = new Map(keys.map((key, i) => [key, booksAccount(i)]));
  const sql = new dist.sql.PostgresSql(options.databaseUrl);
  await sql.query(
    `insert into accounts (id, name, tier) select id, id, $2 from unnest($1::text[]) as t(id)
     on conflict (id) do nothing`,
    [[...accountOf.values()], options.tier],
  );
  // Tollgate's flush interval and quota thresholds, as its own config reads them (defaults unless set).
  const config = dist.config.loadConfig(options.flushMs ? { USAGE_FLUSH_MS: options.flushMs } : {});
  const counted = new dist.counted.CountedAccounts();
  const decisions = new Redis(options.redisUrl, { connectionName: 'floor', maxRetriesPerRequest: 1 });
  const background = new Redis(options.redisUrl, { connectionName: 'background' });
  dist.flusher.startUsageFlusher({
    sources: [new dist.usageSource.RedisUsageSource(background, { counted })],
    sql,
    logger: dist.logger.createLogger('warn'),
    intervalMs: config.usageFlushMs,
    thresholds: config.quotaThresholds,
  });
  const batcher = new DecideBatcher(
    async (calls) => {
      // decide.lua's usage field for a 1-unit call with no credits, in the current month (UTC).
      const now = new Date();
      const field = `${Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)}|${ENDPOINT}|n:1:0`;
      return (await evalshaEncoded(
        decisions,
        SCRIPT,
        calls.map((call) => call.keys),
        [[field]],
      )) as unknown[];
    },
    MAX_IN_FLIGHT,
    MAX_BATCH,
  );
  return (key) => {
    const account = accountOf.get(key);
    if (account === undefined) return Promise.reject(new Error('not a bench key'));
    counted.add(account);
    return batcher.run({ keys: [`floor:${key}`, `{a:${account}}:usage`], args: [] });
  };
}
