// decide.lua's Redis CPU per decision in isolation, against rate-limiter-flexible's script, on a
// redis-server of its own: the same pipelined load each round, rounds alternating, medians (of each
// round's ratio too, so a machine that speeds up or slows down between rounds moves both sides). The live
// rows' Redis column moves with the batch sizes the load happens to form and with the machine (rate-
// limiter-flexible's own figure moved 5.4-7.4 µs between runs); this one holds both fixed.
// decide.lua goes as the store sends it: FCALL of the Function, in the batch form. Batch: calls of BATCH
// decisions, as under load. Single: one decision per call, as an idle store sends it; the same call as
// an EVALSHA script (what a Redis without Functions runs) is measured beside it, and so is a Function
// that sends only its Redis commands (the floor the data model sets). rate-limiter-flexible:
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
  /** One per call: a Function that sends only the Redis commands decide.lua sends for this shape. */
  singleFloor: number;
}

/**
 * The floor under the single form: the commands decide.lua sends for the bench's shapes (TIME once,
 * HMGET of the limit's state and the expiry mark, HSET of the count, and for /check the usage
 * HINCRBY), with the same keys and arguments, and none of its logic. What decide.lua costs above it is
 * its own Lua; what this costs above rate-limiter-flexible's script is the data model's commands.
 */
const FLOOR_NAME = 'tollgate_bench_decide_floor';
const FLOOR_LIBRARY = `#!lua name=${FLOOR_NAME}
redis.register_function('${FLOOR_NAME}', function(keys, args)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('HMGET', keys[1], 'l:t:per-second:s', 'l:t:per-second:c', 'x')
  redis.call('HSET', keys[1], 'l:t:per-second:c', '1')
  if keys[2] then
    redis.call('HINCRBY', keys[2], '0|things|n:1:0', '1')
    return { 1, now, 0, 0, 1000, 0, 0 }
  end
  return { 1, now, 0, 1000, 0, 0 }
end)
`;

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
    await redis.call('FUNCTION', 'LOAD', FLOOR_LIBRARY);
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc_script_${i}`);
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'rlflex-cost',
      points: 1_000_000_000,
      duration: 1,
    });
    // One call: `size` decisions in the batch form (the store sends one alone in it too).
    type Form = 'function' | 'script' | 'floor';
    const command = (form: Form, endpoint: string, first: number, size: number) => {
      const keys: string[] = [];
      const args: string[] = ['#batch', String(size), ''];
      for (let j = 0; j < size; j++) {
        const input = benchCall(ids[(first + j) % ACCOUNTS]!, endpoint);
        keys.push(...decideKeys(input));
        args.push(...decideArgs(input, undefined));
      }
      if (form === 'script') return ['EVALSHA', DECIDE_SHA, keys.length, ...keys, ...args];
      return ['FCALL', form === 'floor' ? FLOOR_NAME : fn.name, keys.length, ...keys, ...args];
    };
    const measure = async (send: () => Promise<void>): Promise<number> => {
      const before = await redisCpuUs(redis);
      await send();
      return ((await redisCpuUs(redis)) - before) / DECISIONS;
    };
    const decide = (endpoint: string, size: number, form: Form = 'function') =>
      measure(async () => {
        const calls = DECISIONS / size;
        for (let c = 0; c < calls; c += PIPELINE) {
          const pipeline = redis.pipeline();
          for (let k = c; k < Math.min(calls, c + PIPELINE); k++) {
            const [name, ...args] = command(form, endpoint, k * size, size);
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
      cf: [] as number[],
      rb: [] as number[],
      rs: [] as number[],
      rx: [] as number[],
      rf: [] as number[],
    };
    // Warm: scripts cached, every key present.
    await decide('things', BATCH);
    await decide('', BATCH);
    await rlflex();
    for (let r = 0; r < ROUNDS; r++) {
      series.rlflex.push(await rlflex());
      series.cb.push(await decide('things', BATCH));
      series.cs.push(await decide('things', 1));
      series.cx.push(await decide('things', 1, 'script'));
      series.cf.push(await decide('things', 1, 'floor'));
      series.rb.push(await decide('', BATCH));
      series.rs.push(await decide('', 1));
      series.rx.push(await decide('', 1, 'script'));
      series.rf.push(await decide('', 1, 'floor'));
    }
    const ratio = (xs: number[]) => median(xs.map((x, i) => x / series.rlflex[i]!));
    const run: ScriptCostRun = {
      batch: BATCH,
      decisionsPerRound: DECISIONS,
      rounds: ROUNDS,
      rlflex: median(series.rlflex),
      check: forms(median, series.cb, series.cs, series.cx, series.cf),
      rls: forms(median, series.rb, series.rs, series.rx, series.rf),
      ratio: {
        check: forms(ratio, series.cb, series.cs, series.cx, series.cf),
        rls: forms(ratio, series.rb, series.rs, series.rx, series.rf),
      },
    };
    C.log(`decide.lua in isolation: ${JSON.stringify(run)}`);
    return run;
  } finally {
    redis.disconnect();
    await proc.stop();
  }
}

const forms = (
  of: (xs: number[]) => number,
  batch: number[],
  single: number[],
  singleScript: number[],
  singleFloor: number[],
): Forms => ({
  batch: of(batch),
  single: of(single),
  singleScript: of(singleScript),
  singleFloor: of(singleFloor),
});
