// The shape of bench/results/latest.json (what bench/lib/markdown.ts renders), and the builders of
// its setup text and row entries.

import type { BurstRow } from './burst.js';
import * as C from './config.js';
import type { FixedRateResult } from './fixed-rate.js';
import { LOAD_CORE } from './load.js';
import type { MeteringRun } from './metering.js';
import type { ScriptCostRun } from './script-cost.js';
import type { SelfTime } from './profile.js';
import type { RedisShape, idleTraffic } from './redis-shape.js';
import type { RotatingBody } from './rotating-body.js';
import { requestsOf, type Row } from './rows.js';
import { median } from './stats.js';
import type { Distribution } from './usage.js';
import type { UsageFlushRun } from './usage-flush.js';

export interface RowReport {
  id: string;
  label: string;
  kind: 'tollgate' | 'reference';
  ceiling: string | undefined;
  rps: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  runs: Array<{
    rps: number;
    p50Us: number;
    p90Us: number;
    p99Us: number;
    errors: number;
    statuses: Record<string, number>;
  }>;
  requests: number;
  /** INFO commandstats, client-sent commands (script-internal left out), all connections. */
  redisCommandsPerDecision: number;
  /** INFO stats total_reads_processed, all clients: ≈ round trips per decision. */
  redisReadsPerDecision: number;
  redisByCommand: Record<string, number>;
  /** CPU time per decision over the runs, µs (/proc): the serving process, and the private Redis (all its clients). */
  serverCpuUsPerDecision: number;
  redisCpuUsPerDecision: number;
  /** Bytes the serving process's V8 heap allocated per decision over the runs (heap-probe.ts). */
  heapBytesPerDecision: number;
  /** CPU steal over the runs, ms per second (steal.ts): the machine stalled, not the row. */
  stealMsPerSecond: number;
}

export interface Target {
  target: string;
  value: string;
  met: boolean;
}

export interface PostgresReport {
  decisions: number;
  /** Decision path (Tollgate /metrics): lookups that waited on a key load, and all key loads (misses + refresh-ahead). */
  keyMisses: number;
  keyLoads: number;
  keyHits: number;
  /** pg_stat_database.xact_commit of the bench database (all of Tollgate's Postgres work). */
  busy: { seconds: number; transactions: number; perSecond: number };
  idle?: { seconds: number; transactions: number; perSecond: number; keyLoads: number };
  transactionsPerDecision: number;
}

export interface Report {
  date: string;
  machine: Record<string, string | number>;
  setup: Record<string, unknown> & {
    runs: string;
    grpcLoad: string;
    httpLoad: string;
    keys: string;
    rls: string;
    grpcKeyRotation: string;
    postgresCounting: string;
    grpcKeyDistribution?: Distribution | undefined;
  };
  skipped: string[];
  warmUp: Record<string, unknown>;
  spot: Record<string, { got: string; expected: string }>;
  redisShape: {
    note: string;
    scriptOnlyCommands: string[];
    rows: RedisShape[];
    idle: ReturnType<typeof idleTraffic>;
  };
  rows: RowReport[];
  /** 1,000 calls in flight at once per transport (bench/lib/burst.ts). */
  burst?: BurstRow[];
  fixedRate?: {
    offered: number;
    seconds: number;
    grpcClient: string;
    httpClient: string;
    /** `result`: the run with the median p99 (errors: all runs'); `p99s`: every run's p99 (µs), in order. */
    runs: Array<{
      id: string;
      label: string;
      kind: 'tollgate' | 'reference';
      result: FixedRateResult;
      p99s: number[];
      /** The serving process's event-loop delay over each run (µs), in order: its own stalls. */
      loopDelays: Array<{ p99: number; max: number }>;
      /** Tollgate's key-cache misses (decisions that waited on Postgres) in each run; null for a reference. */
      keyMisses: Array<number | null>;
      /** CPU of every postgres process during each run, ms per second of the run, in order. */
      postgresCpu: number[];
      /** CPU steal of each run, ms per second (steal.ts). */
      steal: number[];
    }>;
  };
  postgres: PostgresReport;
  millionKeys?: Record<string, unknown> & {
    keySpace: string;
    rps: number;
    p99Us: number;
    distinctUnknownKeysSent: number;
    unknownRequests: number;
    postgresPerDecision: number;
    postgresPerUnknownRequest: number;
    /** Key lookups that reached Postgres (find_key) during the run; those for unknown keys (the filter's false positives), per distinct unknown key sent. */
    postgresKeyLookups?: number;
    unknownKeyLookups?: number;
    keyLookupsPerDistinctUnknownKey?: number;
    keyFilterRefused?: number;
    redisCommandsPerDecision: number;
  };
  usageFlush?: UsageFlushRun[];
  metering?: MeteringRun;
  scriptCost?: ScriptCostRun;
  memory?: {
    keysWarmed: number;
    cacheEntriesBefore: number;
    cacheEntriesAfter: number;
    cacheEntriesNote: string;
    keyLoadsDuringWarm: number;
    rssBeforeMiB: number;
    rssAfterMiB: number;
    rssSpreadKiB: number;
    heapUsedBeforeMiB: number;
    heapUsedAfterMiB: number;
    rssBytesPerCachedKey: number;
    heapBytesPerCachedKey: number;
    coldLookupsPerSecond: number;
    warm: Record<string, number>;
    settleMs: number;
  };
  redisPerAccount: {
    allow: { bytes: number; keys: string[] };
    deny: { bytes: number; keys: string[] };
    usedMemoryDeltaPerAccount: number;
    usedMemoryDeltaPerRlsCounter: number;
  };
  targets: Target[];
  profile?: { totalMs: number; top: SelfTime[]; byArea: Array<{ area: string; pct: number }> } | undefined;
}

export function rowReport(r: Row): RowReport {
  const requests = requestsOf(r);
  return {
    id: r.id,
    label: r.label,
    kind: r.kind,
    ceiling: r.ceiling,
    rps: median(r.results.map((x) => x.rps)),
    p50Us: median(r.results.map((x) => x.p50)),
    p90Us: median(r.results.map((x) => x.p90)),
    p99Us: median(r.results.map((x) => x.p99)),
    runs: r.results.map((x) => ({
      rps: Math.round(x.rps),
      p50Us: x.p50,
      p90Us: x.p90,
      p99Us: x.p99,
      errors: x.errors,
      statuses: x.statuses,
    })),
    requests,
    redisCommandsPerDecision: r.redisCalls / requests,
    redisReadsPerDecision: r.redisReads / requests,
    redisByCommand: r.redisByCommand,
    serverCpuUsPerDecision: r.serverCpuUs / requests,
    redisCpuUsPerDecision: r.redisCpuUs / requests,
    heapBytesPerDecision: r.heapBytes / requests,
    stealMsPerSecond: r.seconds > 0 ? r.stealMs / r.seconds : 0,
  };
}

export function setupText(opts: {
  bodies: RotatingBody[];
  grpcKeyDistribution: Distribution | undefined;
  steadyStateSeconds: number;
}): Report['setup'] {
  return {
    cores: `servers (Tollgate, references) pinned to core ${C.SERVER_CORE}; h2load / wrk / the bench on core ${LOAD_CORE}; Redis (private instance) and Postgres (shared server) unpinned`,
    runs: `${C.REPS} runs of ${C.SECONDS} s per row, interleaved round-robin across rows; medians reported`,
    grpcLoad: `h2load -c ${C.GRPC_CLIENTS} -m ${C.GRPC_STREAMS} -t 1 (${C.GRPC_CLIENTS * C.GRPC_STREAMS} in flight); Tollgate's gRPC server: ${C.GRPC_SERVER ?? 'lean'} (GRPC_SERVER)`,
    httpLoad: `wrk -t 1 -c ${C.HTTP_CONNECTIONS} (${C.HTTP_CONNECTIONS} in flight), Lua rotates x-api-key per request`,
    keysPerPath: C.KEYS,
    keys: `${C.KEYS} distinct keys per path (bench-allow: fixed window 1e9/s, quota unlimited; bench-deny: 1/hour, spent during warm-up)`,
    rls: `domain bench, one descriptor per request rotating over ${C.KEYS} values (bench_allow_user: fixed window 1e9/s; bench_deny_user: 1/hour, spent during warm-up)`,
    grpcKeyRotation: `h2load reads the -d body with pread() per request; the bench rewrites the key (or descriptor value) bytes in place every ~0.2 ms from a worker thread, cycling ${C.KEYS} values (${opts.bodies.reduce((n, b) => n + b.rotations, 0)} rotations over all gRPC runs)`,
    grpcKeyDistribution: opts.grpcKeyDistribution,
    tollgate:
      'bin/tollgate-node dist/main.js as npm start runs it (on its one pinned core: --single-threaded-gc), LOG_LEVEL=warn, other settings default',
    postgresCounting:
      'decision path: Tollgate /metrics deltas (tollgate_key_cache_total{result="miss"}: lookups that waited on Postgres; tollgate_store_duration_seconds_count{store="postgres",operation="find_key"}: every key load, misses and refresh-ahead renewals); all of Tollgate\'s Postgres work: pg_stat_database.xact_commit of the bench database (each query outside a transaction is one), read after a settle so idle backends have flushed their stats',
    steadyStateSeconds: Math.round(opts.steadyStateSeconds),
    only: C.ROWS ? [...C.ROWS] : undefined,
  };
}
