// The floor under any decision that counts in Redis, for the "+ Redis" reference rows: one INCR per
// call, batched exactly as Tollgate batches its decide.lua calls (DecideBatcher with the same limits,
// the same pre-encoded EVALSHA on an ioredis connection). What Tollgate spends above such a row is its
// own decision: key, policy, quota, usage, headers.

import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { DecideBatcher, MAX_BATCH, MAX_IN_FLIGHT } from '../../src/counters/decide-batcher.js';
import { evalshaEncoded } from '../../src/counters/encoded-evalsha.js';

const SOURCE = `local out = {}
for i = 1, #KEYS do out[i] = redis.call('INCR', KEYS[i]) end
return out
`;
const SCRIPT = { source: SOURCE, sha: createHash('sha1').update(SOURCE).digest('hex') };

/** Counts `key` in Redis at `redisUrl` (CLIENT SETNAME floor), one batched script call per reply. */
export function batchedIncr(redisUrl: string): (key: string) => Promise<unknown> {
  const redis = new Redis(redisUrl, { connectionName: 'floor', maxRetriesPerRequest: 1 });
  const batcher = new DecideBatcher(
    async (calls) =>
      (await evalshaEncoded(
        redis,
        SCRIPT,
        calls.map((call) => call.keys),
        [],
      )) as unknown[],
    MAX_IN_FLIGHT,
    MAX_BATCH,
  );
  return (key) => batcher.run({ keys: [`floor:${key}`], args: [] });
}
