// The bench's knobs (environment) and fixed settings. See bench/README.md.

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${name}: expected a number >= 0, got ${JSON.stringify(raw)}`);
  return n;
};

/**
 * Seconds per closed-loop run. A round over the 16 rows (~16 × (this + 0.1 s)) must stay under a
 * minute: a bench-deny key the gRPC rotation misses is used once per round, by http-deny, and the key
 * cache serves an entry stale-while-renewing for one TTL (60 s) past its fresh time. At 4 s, rounds of
 * 66 s let 19 lookups in 1.38 M wait on Postgres.
 */
export const SECONDS = num('BENCH_SECONDS', 3);
/**
 * Runs per row, interleaved round-robin across rows; medians reported. Five, not three: this machine's
 * speed moved 30-50% between rounds of one run (no-op node:http 62k-101k/s), and a median of three
 * rounds let one slow round decide a throughput ratio.
 */
export const REPS = num('BENCH_REPS', 5);
/** Distinct API keys (and RLS descriptor values) per path. */
export const KEYS = num('BENCH_KEYS', 1000);
/** Keys warmed into the key cache for the RSS figure. */
export const MEMORY_KEYS = num('BENCH_MEMORY_KEYS', 100_000);
/** Idle ms before each RSS reading (V8's memory reducer runs its idle GCs ~8 s after activity). */
export const MEMORY_SETTLE_MS = num('BENCH_MEMORY_SETTLE_MS', 20_000);
export const MILLION_SECONDS = num('BENCH_MILLION_SECONDS', 10);
export const PROFILE = process.env.BENCH_PROFILE ?? 'auto';
/** Longer than Postgres' idle stats flush interval (PGSTAT_IDLE_INTERVAL, 10 s), so xact_commit is complete. */
export const PG_STATS_SETTLE_MS = num('BENCH_PG_SETTLE_MS', 11_500);
/** Cap of the idle Postgres window after the runs (default: as long as the busy window). */
export const PG_IDLE_MAX_SECONDS = num('BENCH_PG_IDLE_MAX_SECONDS', Infinity);
/** Seconds of closed-loop load per row under Redis MONITOR. */
export const MONITOR_SECONDS = num('BENCH_MONITOR_SECONDS', 2);
/** BENCH_ROWS=grpc-allow,http-allow: only these rows; fixed rate, 1M keys, memory and profile are skipped. */
export const ROWS: ReadonlySet<string> | undefined = process.env.BENCH_ROWS
  ? new Set(
      process.env.BENCH_ROWS.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
  : undefined;

/** BENCH_GRPC_SERVER=lean|grpc-js: Tollgate's GRPC_SERVER (default: Tollgate's own default, lean). */
export const GRPC_SERVER = process.env.BENCH_GRPC_SERVER || undefined;

export const SERVER_CORE = 0;
/** In flight per run, both transports: gRPC 4 connections × 16 streams (Envoy multiplexes), HTTP 64 keep-alive connections (nginx upstream pool). */
export const GRPC_CLIENTS = 4;
export const GRPC_STREAMS = 16;
export const HTTP_CONNECTIONS = 64;
export const FIXED_RATE = 2000;
export const FIXED_SECONDS = 5;
/**
 * Runs of each fixed-rate row, round-robin over the rows; the report takes the run with the median
 * p99. One 5 s run's p99 is 100 calls, and a stall of the shared 2 cores moved it 3-6x between runs.
 */
export const FIXED_REPEATS = num('BENCH_FIXED_REPS', 3);
/**
 * BENCH_FIXED=http-allow,http-allow-quiet: only these fixed-rate rows run (ids as in lib/fixed-runs.ts),
 * and with BENCH_ROWS they run too, after those rows.
 */
export const FIXED_ONLY: readonly string[] | undefined = process.env.BENCH_FIXED
  ? process.env.BENCH_FIXED.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : undefined;
/** BENCH_TOLLGATE_NODE_ARGS="--trace-gc": node options of the Tollgate under test (profiling). */
export const TOLLGATE_NODE_ARGS = (process.env.BENCH_TOLLGATE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** BENCH_FLUSH_MS: the Tollgate under test's USAGE_FLUSH_MS (default: Tollgate's own). */
export const FLUSH_MS = process.env.BENCH_FLUSH_MS || undefined;
/** h2load --rps: streams each client may have in flight before it must hold a due request back. */
export const FIXED_GRPC_STREAMS = 64;
export const FIXED_HTTP_CONNECTIONS = 16;
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';

export const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
