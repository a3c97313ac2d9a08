// The closed-loop runs: every row BENCH_REPS times, interleaved round-robin, with the Redis
// commandstats and read deltas of each run; the gRPC key distribution from the first grpc-allow run.

import { join } from 'node:path';
import type { Redis } from 'ioredis';
import * as C from './config.js';
import type { Row } from './rows.js';
import { allocatedBytes } from './heap.js';
import { cpuUs } from './procs.js';
import { stealMs } from './steal.js';
import { int, ms } from './stats.js';
import { commandDelta, commandStats, readsProcessed } from './stores.js';
import { distribution, usageCalls, type Distribution } from './usage.js';

export async function runRows(opts: {
  redis: Redis;
  redisPid: number;
  rows: Row[];
  tmp: string;
  scriptOnly: ReadonlySet<string>;
  allowAccountIds: string[];
}): Promise<Distribution | undefined> {
  const { redis, scriptOnly } = opts;
  let grpcKeyDistribution: Distribution | undefined;
  for (let rep = 0; rep < C.REPS; rep++) {
    for (const r of opts.rows) {
      const usageBefore =
        r.id === 'grpc-allow' && rep === 0 ? await usageCalls(redis, opts.allowAccountIds) : undefined;
      const before = await commandStats(redis);
      const readsBefore = await readsProcessed(redis);
      const heapBefore = await allocatedBytes(r.heapPort);
      const cpuBefore = [cpuUs(r.serverPid), cpuUs(opts.redisPid)] as const;
      const [stealBefore, started] = [stealMs(), performance.now()];
      const result = await r.run(C.SECONDS, join(opts.tmp, `${r.id}-${rep}.tsv`));
      const steal = stealMs() - stealBefore;
      r.stealMs += steal;
      r.seconds += (performance.now() - started) / 1000;
      r.serverCpuUs += cpuUs(r.serverPid) - cpuBefore[0];
      const heap = (await allocatedBytes(r.heapPort)) - heapBefore;
      r.heapBytes += heap;
      r.redisCpuUs += cpuUs(opts.redisPid) - cpuBefore[1];
      const reads = (await readsProcessed(redis)) - readsBefore;
      const delta = commandDelta(before, await commandStats(redis));
      if (usageBefore)
        grpcKeyDistribution = distribution(usageBefore, await usageCalls(redis, opts.allowAccountIds));
      r.results.push(result);
      r.redisReads += reads;
      for (const [cmd, n] of Object.entries(delta.byCommand)) {
        if (!scriptOnly.has(cmd)) r.redisCalls += n;
        r.redisByCommand[cmd] = (r.redisByCommand[cmd] ?? 0) + n;
      }
      C.log(
        `${r.id} #${rep + 1}: ${int(result.rps)}/s p50 ${ms(result.p50)} p99 ${ms(result.p99)} ms, errors ${result.errors}, ${JSON.stringify(result.statuses)}, redis ${(delta.total / result.requests).toFixed(3)} cmds (incl. script-internal) and ${(reads / result.requests).toFixed(3)} reads per decision, server heap ${int(heap / result.requests)} B allocated per decision, CPU steal ${Math.round(steal)} ms`,
      );
    }
  }
  return grpcKeyDistribution;
}
