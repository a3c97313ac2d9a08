// Counters: the Redis CounterStore — one EVALSHA of decide.lua per decision (NOSCRIPT → EVAL), errors → StoreUnavailable.

import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import { checkDecideInput } from './check-decide-input.js';
import { DecideBatcher, type DecideCall } from './decide-batcher.js';
import type {
  CounterStore,
  DecideInput,
  DecideResult,
  LimitResult,
  LiveCredits,
  QuotaResult,
} from './counter-store.js';
import { RedisScript } from './redis-script.js';
import type { LimitCheck } from '../policy/limit-rule.js';

const APPLY_CREDITS = new RedisScript('apply-credits.lua');
/** ms a ledger row id is remembered as applied: far longer than any notification delay or replay. */
const APPLIED_TTL_MS = 7 * 86_400_000;

/** The script ships next to the compiled module (the build copies *.lua into dist/counters/). */
const DECIDE = new RedisScript('decide.lua');
export const DECIDE_SCRIPT = DECIDE.source;
export const DECIDE_SHA = DECIDE.sha;

const ALGORITHM_CODE = { fixed_window: 'f', sliding_window: 's', token_bucket: 't' } as const;
const LIMIT_STATES: LimitResult['state'][] = ['ok', 'denied', 'shadow_denied'];
const QUOTA_STATES: QuotaResult['state'][] = ['ok', 'denied', 'overage'];
/** Fixed part of the reply before the 4 integers per limit (see decide.lua). */
const HEAD = 8;

/** KEYS of one call, all under the account's hash tag so Redis Cluster keeps them in one slot. */
export function decideKeys(input: DecideInput): string[] {
  const tag = `{a:${input.accountId}}`;
  return [`${tag}:quota`, `${tag}:credits`, `${tag}:usage`, ...input.limits.map((l) => `${tag}:l:${l.id}`)];
}

/** The per-limit ARGV tail: constant for a prepared limits array, so it is built once per array. */
const limitArgs = new WeakMap<readonly LimitCheck[], string[]>();

function argsOfLimits(limits: readonly LimitCheck[]): string[] {
  let args = limitArgs.get(limits);
  if (args === undefined) {
    args = [String(limits.length)];
    for (const l of limits) {
      args.push(
        ALGORITHM_CODE[l.algorithm],
        String(l.limit),
        String(l.windowMs),
        String(l.burst ?? l.limit),
        l.shadow ? '1' : '0',
        String(l.hits),
      );
    }
    limitArgs.set(limits, args);
  }
  return args;
}

/** ARGV of one call; `nowMs` undefined lets the script read Redis TIME. */
export function decideArgs(input: DecideInput, nowMs: number | undefined): string[] {
  const { quota, credits, quotaSeed } = input;
  const args = [
    nowMs === undefined ? '' : String(nowMs),
    String(input.anchorDay),
    String(input.units),
    quota ? String(quota.limit) : '',
    quota?.overage ? '1' : '0',
    credits ? String(credits.cost) : '',
    String(credits?.seed ?? 0),
    input.endpoint,
    quotaSeed ? String(quotaSeed.periodStartMs) : '',
    String(quotaSeed?.units ?? 0),
  ];
  for (const arg of argsOfLimits(input.limits)) args.push(arg);
  return args;
}

function decodeReply(input: DecideInput, reply: unknown): DecideResult {
  const expected = HEAD + 4 * input.limits.length;
  if (!Array.isArray(reply) || reply.length !== expected || !reply.every((v) => typeof v === 'number')) {
    throw new StoreUnavailable(
      'redis',
      `decide.lua returned an unexpected reply (wanted ${expected} integers)`,
    );
  }
  const r = reply as number[];
  const at = (i: number) => r[i]!;
  const quota = input.quota;
  return {
    allowed: at(0) === 1,
    nowMs: at(1),
    limits: input.limits.map((l, i) => ({
      name: l.name,
      state: LIMIT_STATES[at(HEAD + 4 * i)]!,
      remaining: at(HEAD + 4 * i + 1),
      resetMs: at(HEAD + 4 * i + 2),
      retryAfterMs: at(HEAD + 4 * i + 3),
    })),
    quota: quota && {
      state: QUOTA_STATES[at(2) - 1]!,
      limit: quota.limit,
      used: at(3),
      remaining: Math.max(0, quota.limit - at(3)),
      periodStartMs: at(4),
      periodEndMs: at(5),
    },
    credits: input.credits && { state: at(6) === 1 ? 'ok' : 'denied', balance: at(7) },
  };
}

/** Script calls out at once before decisions wait for a reply (and then go as one batch). */
const MAX_IN_FLIGHT = 2;
/** Decisions per batch: bounds one script call's run time in Redis (~11 µs each). */
const MAX_BATCH = 32;

export class RedisCounterStore implements CounterStore, LiveCredits {
  private readonly redis: Redis | Cluster;
  private readonly now: (() => number) | undefined;
  /** undefined for a Cluster: one call's keys share one slot, a batch's would not. */
  private readonly batcher: DecideBatcher | undefined;

  constructor(options: { redis: Redis | Cluster; now?: () => number }) {
    this.redis = options.redis;
    this.now = options.now;
    if (!options.redis.isCluster)
      this.batcher = new DecideBatcher((calls) => this.runBatch(calls), MAX_IN_FLIGHT, MAX_BATCH);
  }

  async decide(input: DecideInput): Promise<DecideResult> {
    checkDecideInput(input);
    const keys = decideKeys(input);
    const args = decideArgs(input, this.now ? Math.floor(this.now()) : undefined);
    let reply: unknown;
    try {
      reply = await (this.batcher ? this.batcher.run({ keys, args }) : DECIDE.run(this.redis, keys, args));
    } catch (err) {
      // Redis and connection errors carry no key material (the script never sees API keys).
      throw new StoreUnavailable(
        'redis',
        `decide failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return decodeReply(input, reply);
  }

  async applyLedgerRow(accountId: string, ledgerId: string, delta: number): Promise<boolean> {
    const tag = `{a:${accountId}}`;
    try {
      return (
        (await APPLY_CREDITS.run(
          this.redis,
          [`${tag}:credits`, `${tag}:credits:applied`],
          [ledgerId, String(delta), String(APPLIED_TTL_MS)],
        )) === 1
      );
    } catch (err) {
      throw new StoreUnavailable(
        'redis',
        `applying credits failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** One call in the single form, or several in the batch form; per call its reply or a ReplyError. */
  private async runBatch(calls: DecideCall[]): Promise<unknown[]> {
    if (calls.length === 1) return [await DECIDE.run(this.redis, calls[0]!.keys, calls[0]!.args)];
    const keys: string[] = [];
    const args = ['#batch', String(calls.length)];
    for (const call of calls) {
      for (const key of call.keys) keys.push(key);
      for (const arg of call.args) args.push(arg);
    }
    const replies = await DECIDE.run(this.redis, keys, args);
    if (!Array.isArray(replies) || replies.length !== calls.length) {
      throw new Error(
        `decide.lua returned ${Array.isArray(replies) ? replies.length : typeof replies} replies for a batch of ${calls.length}`,
      );
    }
    // { -1, message }: that decision's evaluation failed (e.g. a key of the wrong type), alone.
    return replies.map((reply: unknown) =>
      Array.isArray(reply) && reply[0] === -1 ? new ReplyError(String(reply[1])) : reply,
    );
  }
}
