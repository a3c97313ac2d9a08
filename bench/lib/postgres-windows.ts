// Postgres over the steady-state runs: the decision path from Tollgate's key-cache counters, and
// all of Tollgate's transactions (pg_stat_database.xact_commit) per second, during the runs and in
// an idle window of the same length right after.

import * as C from './config.js';
import { sleep } from './procs.js';
import type { PostgresReport } from './report.js';
import { xactCommit, type BenchDb } from './stores.js';
import { countersDelta, tollgateCounters, type TollgateCounters } from './tollgate-metrics.js';

export interface PostgresStart {
  xact: number;
  at: number;
  tollgate: TollgateCounters;
}

/** Call after an idle settle (so xact_commit is complete), right before the runs. */
export async function postgresStart(bench: BenchDb, httpPort: number): Promise<PostgresStart> {
  return {
    xact: await xactCommit(bench.admin, bench.name),
    at: Date.now(),
    tollgate: await tollgateCounters(httpPort),
  };
}

/** Right after the runs: settles, reads the busy window, then (unless `idleWindow` is false) idles as long and reads again. */
export async function postgresAfterRuns(
  bench: BenchDb,
  httpPort: number,
  start: PostgresStart,
  idleWindow: boolean,
): Promise<PostgresReport> {
  const steady = countersDelta(start.tollgate, await tollgateCounters(httpPort));
  await sleep(C.PG_STATS_SETTLE_MS);
  const end = { xact: await xactCommit(bench.admin, bench.name), at: Date.now() };
  const seconds = (end.at - start.at) / 1000;
  const transactions = end.xact - start.xact;
  const report: PostgresReport = {
    decisions: steady.decides,
    keyMisses: steady.keyMisses,
    keyLoads: steady.keyLoads,
    keyHits: steady.keyHits,
    busy: { seconds, transactions, perSecond: transactions / seconds },
    transactionsPerDecision: transactions / steady.decides,
  };
  if (idleWindow) {
    const idleSeconds = Math.min(seconds, C.PG_IDLE_MAX_SECONDS);
    C.log(
      `Postgres: ${transactions} transactions in ${seconds.toFixed(0)} s of runs; idling ${idleSeconds.toFixed(0)} s to compare`,
    );
    const before = await tollgateCounters(httpPort);
    await sleep(idleSeconds * 1000);
    const idleEnd = { xact: await xactCommit(bench.admin, bench.name), at: Date.now() };
    const s = (idleEnd.at - end.at) / 1000;
    report.idle = {
      seconds: s,
      transactions: idleEnd.xact - end.xact,
      perSecond: (idleEnd.xact - end.xact) / s,
      keyLoads: countersDelta(before, await tollgateCounters(httpPort)).keyLoads,
    };
  }
  C.log(`Postgres: ${JSON.stringify(report)}`);
  return report;
}
