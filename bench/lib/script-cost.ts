// decide.lua's Redis CPU per decision in isolation, against rate-limiter-flexible's script, on a
// redis-server of its own: the same pipelined load each round, rounds alternating, medians. The live
// rows' Redis column moves with the batch sizes the load happens to form and with the machine (rate-
// limiter-flexible's own figure moved 5.4-7.4 µs between runs); this one holds both fixed.
// Batch form: decide.lua calls of BATCH decisions, as the store sends them under load. Single form:
// one decision per call, as an idle store sends it. rate-limiter-flexible: the script and arguments
// its consume() sends, one call per decision. All of them pipelined PIPELINE calls at a time.

import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { DecideInput } from '../../src/counters/counter-store.js';
import * as C from './config.js';
import { fromDist, PER_SECOND, redisCpuUs, startOwnRedis } from './own-redis.js';

type StoreModule = typeof import('../../src/counters/redis-counter-store.js');

export interface ScriptCostRun {
  batch: number;
  decisionsPerRound: number;
  rounds: number;
  /** Redis CPU (user + sys) per decision, µs, medians over the rounds. */
  rlflex: number;
  check: { batch: number; single: number };
  rls: { batch: number; single: number };
}

const BATCH = 25;
const DECISIONS = 10_000;
const ROUNDS = 5;
const ACCOUNTS = 1_000;
/** Pipelined calls in flight at once (each a batch or a single decision). */
const PIPELINE = 400;

/** The bench's allow tier as the decision path asks for it: /check and Check (usage) or RLS (counters only). */
const benchCall = (accountId: string, endpoint: string): DecideInput => ({
  accountId,
  limits: [PER_SECOND],
  anchorDay: 1,
  units: 1,
  quota: null,
  credits: null,
  endpoint,
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function measureScriptCost(logDir: string): Promise<ScriptCostRun> {
  const { url, proc } = await startOwnRedis('redis-script-cost', logDir);
  const { DECIDE_SCRIPT, DECIDE_SHA, decideArgs, decideKeys } = await fromDist<StoreModule>(
    'counters/redis-counter-store.js',
  );
  const redis = new Redis(url);
  try {
    await redis.script('LOAD', DECIDE_SCRIPT);
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc_script_${i}`);
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'rlflex-cost',
      points: 1_000_000_000,
      duration: 1,
    });
    // One call's KEYS and ARGV: `size` decisions, the batch form, or one in the single form.
    const command = (endpoint: string, first: number, size: number): (string | number)[] => {
      const keys: string[] = [];
      const args: string[] = size === 1 ? [] : ['#batch', String(size), ''];
      for (let j = 0; j < size; j++) {
        const input = benchCall(ids[(first + j) % ACCOUNTS]!, endpoint);
        keys.push(...decideKeys(input));
        args.push(...decideArgs(input, undefined));
      }
      return [DECIDE_SHA, keys.length, ...keys, ...args];
    };
    const measure = async (send: () => Promise<void>): Promise<number> => {
      const before = await redisCpuUs(redis);
      await send();
      return ((await redisCpuUs(redis)) - before) / DECISIONS;
    };
    const decide = (endpoint: string, size: number) =>
      measure(async () => {
        const calls = DECISIONS / size;
        for (let c = 0; c < calls; c += PIPELINE) {
          const pipeline = redis.pipeline();
          for (let k = c; k < Math.min(calls, c + PIPELINE); k++)
            pipeline.evalsha(...(command(endpoint, k * size, size) as [string, number, ...string[]]));
          for (const [err, reply] of (await pipeline.exec()) ?? []) {
            if (err) throw err;
            if (!Array.isArray(reply) || reply[0] !== 1)
              throw new Error(`decide.lua answered ${String(reply)}`);
          }
        }
      });
    // rate-limiter-flexible's own script and arguments (RateLimiterRedis.consume(): the rlflxIncr
    // command it defines on the client), pipelined like decide.lua's calls.
    type RlflexPipeline = { rlflxIncr(args: string[]): unknown };
    const rlflex = () =>
      measure(async () => {
        for (let i = 0; i < DECISIONS; i += PIPELINE) {
          const pipeline = redis.pipeline();
          for (let j = i; j < Math.min(DECISIONS, i + PIPELINE); j++)
            (pipeline as unknown as RlflexPipeline).rlflxIncr([
              `${limiter.keyPrefix}:${ids[j % ACCOUNTS]!}`,
              '1',
              String(limiter.duration),
              String(limiter.points),
              String(limiter.duration),
            ]);
          for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
        }
      });
    const series = {
      rlflex: [] as number[],
      cb: [] as number[],
      cs: [] as number[],
      rb: [] as number[],
      rs: [] as number[],
    };
    // Warm: scripts cached, every key present.
    await decide('things', BATCH);
    await decide('', BATCH);
    await rlflex();
    for (let r = 0; r < ROUNDS; r++) {
      series.rlflex.push(await rlflex());
      series.cb.push(await decide('things', BATCH));
      series.cs.push(await decide('things', 1));
      series.rb.push(await decide('', BATCH));
      series.rs.push(await decide('', 1));
    }
    const run: ScriptCostRun = {
      batch: BATCH,
      decisionsPerRound: DECISIONS,
      rounds: ROUNDS,
      rlflex: median(series.rlflex),
      check: { batch: median(series.cb), single: median(series.cs) },
      rls: { batch: median(series.rb), single: median(series.rs) },
    };
    C.log(`decide.lua in isolation: ${JSON.stringify(run)}`);
    return run;
  } finally {
    redis.disconnect();
    await proc.stop();
  }
}
