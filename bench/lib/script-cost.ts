// decide.lua's Redis CPU per decision in isolation, against rate-limiter-flexible's script, on a
// redis-server of its own: the same pipelined load each round, rounds alternating, medians (of each
// round's ratio too, so a machine that speeds up or slows down between rounds moves both sides). The live
// rows' Redis column moves with the batch sizes the load happens to form and with the machine (rate-
// limiter-flexible's own figure moved 5.4-7.4 µs between runs); this one holds both fixed.
// decide.lua goes as the store sends it: FCALL of the Function, in the batch form. Batch: calls of BATCH
// decisions, as under load. Single: one decision per call, as an idle store sends it; the same call as
// an EVALSHA script (what a Redis without Functions runs) is measured beside it. rate-limiter-flexible:
// the script and arguments its consume() sends, one call per decision. All of them pipelined PIPELINE
// calls at a time.

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
  check: Forms;
  rls: Forms;
  /** Each form ÷ rate-limiter-flexible in the same round, the median over the rounds. */
  ratio: { check: Forms; rls: Forms };
}

/** µs per decision: as the store sends it (a Function), and one per call as an EVALSHA script. */
interface Forms {
  batch: number;
  single: number;
  singleScript: number;
}

const BATCH = 25;
const DECISIONS = 10_000;
const ROUNDS = 9;
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
  const { DECIDE_SCRIPT, DECIDE_SHA, decideArgs, decideFunction, decideKeys } = await fromDist<StoreModule>(
    'counters/redis-counter-store.js',
  );
  const fn = decideFunction();
  const redis = new Redis(url);
  try {
    await redis.script('LOAD', DECIDE_SCRIPT);
    await redis.call('FUNCTION', 'LOAD', fn.library);
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc_script_${i}`);
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'rlflex-cost',
      points: 1_000_000_000,
      duration: 1,
    });
    // One call: `size` decisions in the batch form (the store sends one alone in it too).
    const command = (script: boolean, endpoint: string, first: number, size: number) => {
      const keys: string[] = [];
      const args: string[] = ['#batch', String(size), ''];
      for (let j = 0; j < size; j++) {
        const input = benchCall(ids[(first + j) % ACCOUNTS]!, endpoint);
        keys.push(...decideKeys(input));
        args.push(...decideArgs(input, undefined));
      }
      return script
        ? ['EVALSHA', DECIDE_SHA, keys.length, ...keys, ...args]
        : ['FCALL', fn.name, keys.length, ...keys, ...args];
    };
    const measure = async (send: () => Promise<void>): Promise<number> => {
      const before = await redisCpuUs(redis);
      await send();
      return ((await redisCpuUs(redis)) - before) / DECISIONS;
    };
    const decide = (endpoint: string, size: number, script = false) =>
      measure(async () => {
        const calls = DECISIONS / size;
        for (let c = 0; c < calls; c += PIPELINE) {
          const pipeline = redis.pipeline();
          for (let k = c; k < Math.min(calls, c + PIPELINE); k++) {
            const [name, ...args] = command(script, endpoint, k * size, size);
            pipeline.call(name as string, ...args);
          }
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
      cx: [] as number[],
      rb: [] as number[],
      rs: [] as number[],
      rx: [] as number[],
    };
    // Warm: scripts cached, every key present.
    await decide('things', BATCH);
    await decide('', BATCH);
    await rlflex();
    for (let r = 0; r < ROUNDS; r++) {
      series.rlflex.push(await rlflex());
      series.cb.push(await decide('things', BATCH));
      series.cs.push(await decide('things', 1));
      series.cx.push(await decide('things', 1, true));
      series.rb.push(await decide('', BATCH));
      series.rs.push(await decide('', 1));
      series.rx.push(await decide('', 1, true));
    }
    const ratio = (xs: number[]) => median(xs.map((x, i) => x / series.rlflex[i]!));
    const run: ScriptCostRun = {
      batch: BATCH,
      decisionsPerRound: DECISIONS,
      rounds: ROUNDS,
      rlflex: median(series.rlflex),
      check: { batch: median(series.cb), single: median(series.cs), singleScript: median(series.cx) },
      rls: { batch: median(series.rb), single: median(series.rs), singleScript: median(series.rx) },
      ratio: {
        check: { batch: ratio(series.cb), single: ratio(series.cs), singleScript: ratio(series.cx) },
        rls: { batch: ratio(series.rb), single: ratio(series.rs), singleScript: ratio(series.rx) },
      },
    };
    C.log(`decide.lua in isolation: ${JSON.stringify(run)}`);
    return run;
  } finally {
    redis.disconnect();
    await proc.stop();
  }
}
