// The UsageSource contract on Redis (take-usage.lua / ack-usage.lua) with the flusher writing to Postgres.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { RedisScript } from '../../src/counters/redis-script.js';
import { RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { describeUsageSource } from '../contracts/usage-source.contract.js';
import { freshPostgres } from '../support/databases.js';
import { REDIS_URL } from '../support/tollgate.js';
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
