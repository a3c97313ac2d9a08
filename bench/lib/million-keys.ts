// 1,000,000 distinct keys through HTTP /check, most of them unknown: the negative cache and the
// Postgres lookups of keys never seen before.

import { join } from 'node:path';
import type { Redis } from 'ioredis';
import * as C from './config.js';
import { wrkHttp } from './load.js';
import { sleep } from './procs.js';
import type { Report } from './report.js';
import { int } from './stats.js';
import { commandDelta, commandStats, xactCommit, type BenchDb } from './stores.js';
import { countersDelta, tollgateCounters } from './tollgate-metrics.js';

export async function runMillionKeys(opts: {
  redis: Redis;
  bench: BenchDb;
  httpPort: number;
  benchDir: string;
  allowKeysFile: string;
}): Promise<NonNullable<Report['millionKeys']>> {
  const { redis, bench } = opts;
  const pgStart = await xactCommit(bench.admin, bench.name);
  const redisBefore = await commandStats(redis);
  const countersBefore = await tollgateCounters(opts.httpPort);
  const million = await wrkHttp({
    port: opts.httpPort,
    path: '/check',
    script: join(opts.benchDir, 'wrk/million-keys.lua'),
    scriptArgs: [opts.allowKeysFile],
    seconds: C.MILLION_SECONDS,
    connections: C.HTTP_CONNECTIONS,
  });
  const redisMillion = commandDelta(redisBefore, await commandStats(redis));
  const tollgate = countersDelta(countersBefore, await tollgateCounters(opts.httpPort));
  await sleep(C.PG_STATS_SETTLE_MS);
  const pg = (await xactCommit(bench.admin, bench.name)) - pgStart;
  C.log(
    `1M keys: ${int(million.rps)}/s, ${pg} Postgres transactions for ${million.requests} decisions (${million.raw.distinct_unknown} distinct unknown keys); ${tollgate.keyLoads} Postgres key lookups (${tollgate.keyFilterFalsePositives} of them for unknown keys), ${tollgate.keyFilterRefused} refused by the key filter`,
  );
  return {
    keySpace:
      '1,000,000 distinct keys: 1,000 valid (bench-allow, 1 request in 4) + 999,000 unknown (3 in 4, id = floor(999000·r³): a long tail and repeating junk)',
    seconds: C.MILLION_SECONDS,
    rps: million.rps,
    p50Us: million.p50,
    p99Us: million.p99,
    requests: million.requests,
    distinctUnknownKeysSent: million.raw.distinct_unknown!,
    unknownRequests: million.raw.unknown_requests!,
    postgresTransactions: pg,
    postgresPerDecision: pg / million.requests,
    postgresPerUnknownRequest: pg / million.raw.unknown_requests!,
    postgresKeyLookups: tollgate.keyLoads,
    unknownKeyLookups: tollgate.keyFilterFalsePositives,
    keyLookupsPerDistinctUnknownKey: tollgate.keyFilterFalsePositives / million.raw.distinct_unknown!,
    keyFilterRefused: tollgate.keyFilterRefused,
    redisCommandsPerDecision: redisMillion.total / million.requests,
    redisByCommand: redisMillion.byCommand,
    statuses: million.statuses,
  };
}
