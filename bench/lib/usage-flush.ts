// The usage flusher's background Redis work per active account and flush interval, at 1,000 and
// 100,000 accounts that all have new usage: Tollgate's own flusher and stores, in this process,
// against a redis-server of its own (so Tollgate's running flusher cannot take the usage first).
// Beside the Redis calls: what one flush costs this Node process and Postgres per account, and how
// many bytes it adds to the tables it writes.

import { Redis } from 'ioredis';
import type postgres from 'postgres';
import type { DecideInput } from '../../src/counters/counter-store.js';
import * as C from './config.js';
import { postgresCpuMs } from './postgres-cpu.js';
import { median } from './stats.js';
import { freePort, startProc } from './procs.js';
import { base32, commandDelta, commandStats } from './stores.js';

type Module<Path extends string> = Path extends 'counters/redis-counter-store.js'
  ? typeof import('../../src/counters/redis-counter-store.js')
  : Path extends 'counters/redis-usage-source.js'
    ? typeof import('../../src/counters/redis-usage-source.js')
    : Path extends 'db/postgres-sql.js'
      ? typeof import('../../src/db/postgres-sql.js')
      : Path extends 'logger.js'
        ? typeof import('../../src/logger.js')
        : Path extends 'usage/counted-accounts.js'
          ? typeof import('../../src/usage/counted-accounts.js')
          : typeof import('../../src/usage/start-usage-flusher.js');

/** Tollgate's compiled module from dist/ (what `npm start` runs; its Lua scripts sit next to it). */
const fromDist = <Path extends string>(path: Path): Promise<Module<Path>> =>
  import(new URL(`../../../../dist/${path}`, import.meta.url).href) as Promise<Module<Path>>;

export interface UsageFlushRun {
  accounts: number;
  /** take + ack script calls (EVALSHA/EVAL) of one flush where every account had new usage. */
  scriptCalls: number;
  scriptCallsPerAccount: number;
  /** Every command the flush sent, by name (no SCAN between full scans). */
  commands: Record<string, number>;
  /** Flushes measured (the figures below are their medians), after warmUpFlushes unmeasured ones. */
  flushes: number;
  warmUpFlushes: number;
  flushMs: number;
  /** Redis CPU (user + sys) over that flush, ms. */
  redisCpuMs: number;
  /** The first flush of a process also SCANs every master: its commands. */
  fullScanCommands: Record<string, number>;
  /** CPU (user + sys) of this Node process over the flush, ms: the flusher, ioredis, postgres.js. */
  nodeCpuMs: number;
  /** CPU of every postgres process of the machine over the flush, ms (clock ticks: ±10 ms). */
  postgresCpuMs: number;
  /** What the flush added to the tables it writes (FLUSH_TABLES), bytes on disk with their indexes. */
  postgresBytes: number;
}

/** The tables a flush writes: the batch guard, the books, the chart, the export rows, the ledger. */
const FLUSH_TABLES = ['usage_batches', 'usage_monthly', 'usage_daily', 'outbox', 'credit_ledger'];

async function tableBytes(db: postgres.Sql): Promise<number> {
  const [row] = await db<{ bytes: string }[]>`
    select sum(pg_total_relation_size(t::regclass))::text as bytes from unnest(${FLUSH_TABLES}::text[]) t`;
  return Number(row!.bytes);
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string) => Number(info.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))![1]);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

export async function measureUsageFlush(opts: {
  db: postgres.Sql;
  url: string;
  tier: string;
  logDir: string;
  sizes?: number[];
}): Promise<UsageFlushRun[]> {
  const runs: UsageFlushRun[] = [];
  for (const size of opts.sizes ?? [1_000, 100_000]) runs.push(await measureOne(opts, size));
  return runs;
}

async function measureOne(
  opts: { db: postgres.Sql; url: string; tier: string; logDir: string },
  size: number,
): Promise<UsageFlushRun> {
  const port = await freePort();
  const proc = await startProc({
    name: `redis-flush-${size}`,
    core: null,
    cmd: 'redis-server',
    logDir: opts.logDir,
    ready: /Ready to accept connections/,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  });
  const { RedisCounterStore } = await fromDist('counters/redis-counter-store.js');
  const { accountsPerScript, RedisUsageSource } = await fromDist('counters/redis-usage-source.js');
  const { PostgresSql } = await fromDist('db/postgres-sql.js');
  const { createLogger } = await fromDist('logger.js');
  const { CountedAccounts } = await fromDist('usage/counted-accounts.js');
  const { startUsageFlusher } = await fromDist('usage/start-usage-flusher.js');
  const url = `redis://127.0.0.1:${port}`;
  const decisions = new Redis(url);
  const background = new Redis(url);
  const sql = new PostgresSql(opts.url);
  const counted = new CountedAccounts();
  const store = new RedisCounterStore({ redis: decisions, counted });
  const flusher = startUsageFlusher({
    sources: [new RedisUsageSource(background, { counted })],
    sql,
    logger: createLogger('silent'),
    intervalMs: 3_600_000,
  });
  try {
    const ids = Array.from({ length: size }, () => `acc_${base32(16)}`);
    await opts.db`insert into accounts (id, name, tier) select id, id, ${opts.tier} from unnest(${ids}::text[]) as t(id)`;
    const decideAll = async () => {
      for (let i = 0; i < ids.length; i += 500)
        await Promise.all(ids.slice(i, i + 500).map((id) => store.decide(usageCall(id))));
    };
    await decideAll();
    const before = await commandStats(background);
    await flusher.flushNow();
    const fullScanCommands = commandDelta(before, await commandStats(background)).byCommand;
    // A flush of code that has run twice is mostly V8 warming up: the smaller sizes flush a few
    // times unmeasured, then report the median of several flushes (the largest flushes once).
    const [warmUps, measured] = size <= REPEAT_UP_TO ? [WARM_UP_FLUSHES, MEASURED_FLUSHES] : [0, 1];
    for (let i = 0; i < warmUps; i++) {
      await decideAll();
      await flusher.flushNow();
    }
    const flushes: OneFlush[] = [];
    for (let i = 0; i < measured; i++) {
      await decideAll();
      flushes.push(await measureFlush(flusher, background, opts.db, size));
    }
    const mid = (pick: (f: OneFlush) => number) => median(flushes.map(pick));
    const { commands } = flushes[flushes.length - 1]!;
    const scriptCalls = (commands.evalsha ?? 0) + (commands.eval ?? 0);
    const flushMs = mid((f) => f.flushMs);
    const cpu = mid((f) => f.redisCpuMs);
    const nodeCpuMs = mid((f) => f.nodeCpuMs);
    C.log(
      `usage flush, ${size} accounts with new usage (median of ${measured} after ${warmUps} unmeasured): ${scriptCalls} script calls (${accountsPerScript(size)} accounts each), ${Math.round(flushMs)} ms, Redis CPU ${cpu.toFixed(1)} ms, Node CPU ${nodeCpuMs.toFixed(0)} ms`,
    );
    return {
      accounts: size,
      scriptCalls,
      scriptCallsPerAccount: scriptCalls / size,
      commands,
      flushes: measured,
      warmUpFlushes: warmUps,
      flushMs,
      redisCpuMs: cpu,
      fullScanCommands,
      nodeCpuMs,
      postgresCpuMs: mid((f) => f.postgresCpuMs),
      postgresBytes: mid((f) => f.postgresBytes),
    };
  } finally {
    await flusher.stop();
    await store.close();
    background.disconnect();
    await sql.close();
    await proc.stop();
  }
}

/** Sizes up to this flush WARM_UP_FLUSHES times unmeasured, then MEASURED_FLUSHES times (medians kept). */
const REPEAT_UP_TO = 10_000;
const WARM_UP_FLUSHES = 5;
const MEASURED_FLUSHES = 7;

type OneFlush = Pick<
  UsageFlushRun,
  'flushMs' | 'redisCpuMs' | 'nodeCpuMs' | 'postgresCpuMs' | 'postgresBytes' | 'commands'
>;

/** One flush of `size` accounts that all have new usage: its time, its CPU in each process, its bytes. */
async function measureFlush(
  flusher: { flushNow(): Promise<{ failed: boolean; batches: number }> },
  background: Redis,
  db: postgres.Sql,
  size: number,
): Promise<OneFlush> {
  const before = await commandStats(background);
  const cpuBefore = await redisCpuMs(background);
  const bytesBefore = await tableBytes(db);
  const postgresBefore = await postgresCpuMs();
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  const result = await flusher.flushNow();
  const flushMs = performance.now() - started;
  const node = process.cpuUsage(nodeBefore);
  const postgresCpu = (await postgresCpuMs()) - postgresBefore;
  const redisCpu = (await redisCpuMs(background)) - cpuBefore;
  const postgresBytes = (await tableBytes(db)) - bytesBefore;
  if (result.failed || result.batches !== size)
    throw new Error(`usage flush of ${size} accounts: ${JSON.stringify(result)}`);
  return {
    flushMs,
    redisCpuMs: redisCpu,
    nodeCpuMs: (node.user + node.system) / 1000,
    postgresCpuMs: postgresCpu,
    postgresBytes,
    commands: commandDelta(before, await commandStats(background)).byCommand,
  };
}

const usageCall = (accountId: string): DecideInput => ({
  accountId,
  limits: [],
  anchorDay: 1,
  units: 1,
  quota: null,
  credits: null,
  endpoint: 'bench',
});
