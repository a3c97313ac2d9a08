// The UsageSource contract on Redis (take-usage.lua / ack-usage.lua) with the flusher writing to Postgres.

import { Redis } from 'ioredis';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
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
