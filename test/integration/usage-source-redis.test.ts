// The UsageSource contract on Redis (take-usage.lua / ack-usage.lua) with the flusher writing to Postgres.

import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { createAccount } from '../../src/accounts/create-account.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { startUsageFlusher } from '../../src/usage/start-usage-flusher.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { RedisScript } from '../../src/counters/redis-script.js';
import { RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { describeUsageSource } from '../contracts/usage-source.contract.js';
import { freshPostgres } from '../support/databases.js';
import { DEMO_POLICY_YAML, REDIS_URL } from '../support/tollgate.js';
import { CountedAccounts } from '../../src/usage/counted-accounts.js';

/** The Redis fixture; `counted` as a served process wires it: the flusher visits what decisions counted. */
async function redisFixture(counted?: CountedAccounts) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const db = await freshPostgres();
  const ids = new Set<string>();
  const counters = new RedisCounterStore(counted ? { redis, counted } : { redis });
  const decide = counters.decide.bind(counters);
  counters.decide = (input) => (ids.add(input.accountId), decide(input));
  return {
    counters,
    source: new RedisUsageSource(redis, counted ? { counted } : {}),
    sql: db.sql,
    async close() {
      // Only this file's accounts: the shared Redis is never flushed.
      for (const id of ids) {
        const keys = await redis.keys(`{a:${id}}:*`);
        if (keys.length > 0) await redis.del(...keys);
      }
      redis.disconnect();
      await db.drop();
    },
  };
}

describeUsageSource('redis + postgres', () => redisFixture());
describeUsageSource('redis + postgres, counted accounts', () => redisFixture(new CountedAccounts()));

test('take-usage.lua refuses an account without its batch id before it moves any usage', async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const [first, second] = [`ct-${randomUUID()}`, `ct-${randomUUID()}`];
  const live = (id: string) => `{a:${id}}:usage`;
  try {
    await redis.hincrby(live(first), '0|chat|calls', 3);
    await redis.hincrby(live(second), '0|chat|calls', 4);
    const take = new RedisScript('take-usage.lua');
    await expect(take.run(redis, [live(first)], [first, 'batch-1', second])).rejects.toThrow(
      /ARGV must be pairs/,
    );
    for (const id of [first, second]) {
      expect(await redis.hget(live(id), '0|chat|calls')).not.toBeNull();
      expect(await redis.exists(`${live(id)}:flushing`)).toBe(0);
    }
  } finally {
    await redis.del(live(first), live(second), `${live(first)}:flushing`, `${live(second)}:flushing`);
    redis.disconnect();
  }
});

test('a batch holding a usage field this version does not know stays pending, neither written nor acked', async () => {
  // As in a rolling upgrade: a newer replica counted a field (here "|one") that this flusher cannot
  // read. Writing the rest and acking would lose it; the batch waits for a newer replica's flush.
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const db = await freshPostgres();
  const lines: string[] = [];
  const out = new PassThrough().on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  const flusher = startUsageFlusher({
    sources: [new RedisUsageSource(redis)],
    sql: db.sql,
    logger: createLogger('warn', out),
    intervalMs: 3_600_000,
  });
  const ids: string[] = [];
  try {
    await migrate(db.sql);
    await savePolicy(db.sql, parsePolicy(DEMO_POLICY_YAML));
    for (let i = 0; i < 2; i++) ids.push((await createAccount(db.sql, { name: 'u', tier: 'free' })).id);
    const [newer, plain] = ids as [string, string];
    const live = (id: string) => `{a:${id}}:usage`;
    await redis.hset(live(newer), '0|chat|calls', '4', '0|chat|units', '4', '0|chat|one', '2');
    await redis.hset(live(plain), '0|chat|calls', '3', '0|chat|units', '3');
    const monthly = (id: string) =>
      db.sql.query<{ calls: number }>('select calls::int from usage_monthly where account_id = $1', [id]);

    const first = await flusher.flushNow();
    expect(first).toEqual({ batches: 1, failed: true });
    expect(await monthly(plain)).toEqual([{ calls: 3 }]);
    expect(await monthly(newer)).toEqual([]);
    const pending = await redis.hgetall(`${live(newer)}:flushing`);
    expect(pending).toMatchObject({ '0|chat|calls': '4', '0|chat|one': '2' });
    const warned = JSON.parse(lines.join('').trim().split('\n')[0]!) as Record<string, unknown>;
    expect(warned).toMatchObject({ accounts: 1, fields: ['0|chat|one'] });
    expect(warned.msg).toMatch(/fields this version does not know; left pending/);

    // Usage counted meanwhile waits in the live hash; the next flush leaves the same batch as it was.
    await redis.hincrby(live(newer), '0|chat|calls', 1);
    expect(await flusher.flushNow()).toEqual({ batches: 0, failed: true });
    expect(await redis.hgetall(`${live(newer)}:flushing`)).toEqual(pending);
    expect(await redis.hget(live(newer), '0|chat|calls')).toBe('1');
    expect(await monthly(newer)).toEqual([]);
  } finally {
    await flusher.stop();
    for (const id of ids) {
      const keys = await redis.keys(`{a:${id}}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
    await db.drop();
  }
});
