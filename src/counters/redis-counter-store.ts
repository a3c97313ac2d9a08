// Counters: the Redis CounterStore — one EVALSHA of decide.lua per decision (NOSCRIPT → EVAL), errors → StoreUnavailable.

import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import { checkDecideInput } from './check-decide-input.js';
import { DecideBatcher, MAX_BATCH, MAX_IN_FLIGHT, type DecideCall } from './decide-batcher.js';
import { DecideFunction } from './decide-function.js';
import type {
  CounterStore,
  DecideInput,
  DecideResult,
  LimitResult,
  LiveCredits,
  QuotaResult,
} from './counter-store.js';
import { ConnectionWatch } from './connection-watch.js';
import { RedisClock } from './redis-clock.js';
import { RedisScript } from './redis-script.js';
import type { LimitCheck } from '../policy/limit-rule.js';
import type { CountedAccounts } from '../usage/counted-accounts.js';
import { parseReservationId } from '../metering/reservation-id.js';
import type { OpenReservation, ReservationStore, SettleResult } from '../metering/reservation-settler.js';
import { recentResults } from '../recent-results.js';

const APPLY_CREDITS = new RedisScript('apply-credits.lua');
const SETTLE = new RedisScript('settle.lua');
const UNCOUNT = new RedisScript('uncount.lua');
/** ms a ledger row id is remembered as applied: far longer than any notification delay or replay. */
const APPLIED_TTL_MS = 7 * 86_400_000;

/** The script ships next to the compiled module (the build copies *.lua into dist/counters/). */
const DECIDE = new RedisScript('decide.lua');
export const DECIDE_SCRIPT = DECIDE.source;
export const DECIDE_SHA = DECIDE.sha;
/** decide.lua as a Redis Function (each store keeps its own: one Redis may refuse Functions). */
export const decideFunction = (onFallback?: (answer: string) => void) =>
  new DecideFunction(DECIDE, onFallback);

const ALGORITHM_CODE = { fixed_window: 'f', sliding_window: 's', token_bucket: 't' } as const;
const LIMIT_STATES: LimitResult['state'][] = ['ok', 'denied', 'shadow_denied'];
const QUOTA_STATES: QuotaResult['state'][] = ['ok', 'denied', 'overage'];
/**
 * Fixed part of the reply before the 4 integers per limit (see decide.lua): 8 with a quota or credits,
 * 3 with a usage record only (uncount needs its period start), 2 for counters only (the RLS path).
 */
function headOf(input: DecideInput): number {
  if (input.quota || input.credits) return 8;
  return input.endpoint !== '' ? 3 : 2;
}

/**
 * Where the reply holds the billing period start the decision counted in. A head of 2 has none, and
 * uncount.lua then has no quota count or usage record to take back with it.
 */
function periodStartAt(input: DecideInput): number {
  return headOf(input) === 8 ? 4 : 2;
}

/** An account's quota, credits and usage keys, under its hash tag so Redis Cluster keeps them in one slot. */
interface AccountKeySet {
  quota: string;
  credits: string;
  usage: string;
}

/**
 * Key sets of recent accounts. Built once, a key is the same string call after call, flattened by its
 * first encoding: a key built per decision was a joined string the encoder flattened each time again.
 * Bounded; cleared whole when full (an account past it builds its keys again, as before).
 */
const keySetOf = recentResults(10_000, (accountId): AccountKeySet => {
  const tag = `{a:${accountId}}`;
  return { quota: `${tag}:quota`, credits: `${tag}:credits`, usage: `${tag}:usage` };
});

/** The quota, credits and usage keys of an account (uncount.lua takes all three). */
function accountKeys(accountId: string): [string, string, string] {
  const { quota, credits, usage } = keySetOf(accountId);
  return [quota, credits, usage];
}

/** KEYS of one call: those its spec uses (see decide.lua). */
export function decideKeys(input: DecideInput): string[] {
  const set = keySetOf(input.accountId);
  const keys = [set.quota];
  if (input.credits) keys.push(set.credits);
  if (input.endpoint !== '') keys.push(set.usage);
  if (input.reservation) keys.push(reservationKey(input.accountId, input.reservation.id));
  return keys;
}

/** `{a:ID}:r:<expiry>.<random>`: the record of one reservation (decide.lua, settle.lua). */
function reservationKey(accountId: string, id: string): string {
  const parts = parseReservationId(id);
  if (parts?.accountId !== accountId) throw new Error(`decide: reservation id ${id} is not of ${accountId}`);
  return `{a:${accountId}}:r:${parts.local}`;
}

/**
 * The specs made for one limits array (a prepared call's, shared by its calls): the limits' part, and
 * each whole spec by the account's anchor day, kept with what it was made of. Built once, a spec is
 * the same string call after call, flattened by its first encoding (see keySetOf). An array met once
 * (a metered call's, made per call) keeps no whole spec.
 */
interface LimitsSpecs {
  limits: string;
  byAnchorDay: Map<number, Made> | undefined;
}
interface Made {
  spec: string;
  units: number;
  quotaLimit: number | undefined;
  overage: boolean;
  cost: number | undefined;
  hold: number | undefined;
  endpoint: string;
}
const limitSpecs = new WeakMap<readonly LimitCheck[], LimitsSpecs>();

function specsOf(limits: readonly LimitCheck[]): LimitsSpecs {
  let specs = limitSpecs.get(limits);
  if (specs === undefined) {
    let spec = String(limits.length);
    for (const l of limits) {
      const shadow = l.shadow ? '1' : '0';
      const code = ALGORITHM_CODE[l.algorithm];
      spec += `|${code}|${l.limit}|${l.windowMs}|${l.burst ?? l.limit}|${shadow}|${l.hits}|${l.id}`;
    }
    specs = { limits: spec, byAnchorDay: undefined };
    limitSpecs.set(limits, specs);
  } else specs.byAnchorDay ??= new Map();
  return specs;
}

/**
 * What decide.lua is asked, in one "|"-joined string: the same for every call of one plan and
 * endpoint, so a batch parses each distinct spec once (see the script's header for the fields).
 */
export function decideSpec(input: DecideInput): string {
  const { quota, credits, reservation } = input;
  const specs = specsOf(input.limits);
  const made = specs.byAnchorDay?.get(input.anchorDay);
  if (
    made !== undefined &&
    made.units === input.units &&
    made.quotaLimit === quota?.limit &&
    made.overage === (quota?.overage === true) &&
    made.cost === credits?.cost &&
    made.hold === reservation?.ttlMs &&
    made.endpoint === input.endpoint
  )
    return made.spec;
  const quotaLimit = quota ? String(quota.limit) : '';
  const overage = quota?.overage ? '1' : '0';
  const cost = credits ? String(credits.cost) : '';
  const hold = reservation ? String(reservation.ttlMs) : '';
  const spec = `${input.anchorDay}|${input.units}|${quotaLimit}|${overage}|${cost}|${hold}|${input.endpoint}|${specs.limits}`;
  specs.byAnchorDay?.set(input.anchorDay, {
    spec,
    units: input.units,
    quotaLimit: quota?.limit,
    overage: quota?.overage === true,
    cost: credits?.cost,
    hold: reservation?.ttlMs,
    endpoint: input.endpoint,
  });
  return spec;
}

/** ARGV of one call, those its spec uses; `nowMs` undefined lets the script read Redis TIME. */
export function decideArgs(input: DecideInput, nowMs: number | undefined): string[] {
  const { credits, quotaSeed } = input;
  const args = [nowMs === undefined ? '' : String(nowMs), decideSpec(input)];
  if (credits)
    args.push(credits.seedLedgerId ? `${credits.seed}:${credits.seedLedgerId}` : String(credits.seed));
  if (input.quota) args.push(quotaSeed ? String(quotaSeed.periodStartMs) : '', String(quotaSeed?.units ?? 0));
  return args;
}

/** settle.lua's reply; `changed` runs when the usage hash took a correction. */
function settleResult(reply: unknown, changed: () => void): SettleResult {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number')
    throw new StoreUnavailable('redis', 'settle.lua returned an unexpected reply');
  if (reply[0] === 0) return { outcome: 'unknown' };
  if (reply[0] === 1) return { outcome: 'already_settled' };
  const [, reserved, units] = reply as number[];
  if (units !== reserved) changed();
  return { outcome: 'settled', reserved: reserved!, units: units! };
}

/** A literal for SCAN MATCH: glob specials escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\\\]]/g, (c) => `\\${c}`);
}

function allNumbers(values: unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') return false;
  return true;
}

function decodeReply(input: DecideInput, reply: unknown): DecideResult {
  const head = headOf(input);
  const expected = head + 4 * input.limits.length;
  if (!Array.isArray(reply) || reply.length !== expected || !allNumbers(reply)) {
    throw new StoreUnavailable(
      'redis',
      `decide.lua returned an unexpected reply (wanted ${expected} integers)`,
    );
  }
  const r = reply as number[];
  const at = (i: number) => r[i]!;
  const quota = input.quota;
  const limits: LimitResult[] = new Array(input.limits.length);
  for (let i = 0, x = head; i < limits.length; i++, x += 4)
    limits[i] = {
      name: input.limits[i]!.name,
      state: LIMIT_STATES[r[x]!]!,
      remaining: r[x + 1]!,
      resetMs: r[x + 2]!,
      retryAfterMs: r[x + 3]!,
    };
  return {
    allowed: at(0) === 1,
    nowMs: at(1),
    limits,
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

/**
 * The batch form's flat reply cut into one reply per call: head + 4 per limit integers, or -1 and a
 * message for a decision whose evaluation failed (one flat array costs the script no table per decision).
 */
function splitReplies(calls: readonly Call[], replies: unknown): unknown[][] {
  const split: unknown[][] = [];
  if (Array.isArray(replies)) {
    let at = 0;
    for (const call of calls) {
      const length = replies[at] === -1 ? 2 : headOf(call.input) + 4 * call.input.limits.length;
      split.push(replies.slice(at, at + length));
      at += length;
    }
    if (at === replies.length) return split;
  }
  throw new Error(
    `decide.lua returned ${Array.isArray(replies) ? `${replies.length} values` : typeof replies} for a batch of ${calls.length}`,
  );
}

/** A decide that reached Redis past its deadline consumed nothing and is sent again, this often at most. */
const MAX_RESENDS = 4;
/** Marks a decision that reached Redis past its deadline (nothing consumed): it is sent again. */
const EXPIRED = Symbol('expired');

/** One decision as runBatch sends it: what uncount needs is its input. */
type Call = DecideCall & { sends?: number; input: DecideInput };

export interface RedisCounterStoreOptions {
  redis: Redis | Cluster;
  /** Tests: a fixed clock passed to the script instead of Redis TIME. */
  now?: () => number;
  /**
   * REDIS_TIMEOUT_MS. Set: the connection is watched (silent this long with calls outstanding =
   * StoreUnavailable for them) and each decide carries a deadline this far ahead in Redis time.
   */
  timeoutMs?: number;
  /** Called when the watched connection stalls (before the calls in flight fail at their deadline). */
  onStall?: (cause: string) => void;
  /** Called with the count of decisions taken back because their reply came after their caller failed. */
  onUncount?: (decisions: number, error?: unknown) => void;
  /** Told every account whose usage hash this store may have written, for the usage flusher. */
  counted?: CountedAccounts;
  /** Told, with Redis' answer, when Redis refused FCALL or FUNCTION LOAD and decisions go by EVALSHA. */
  onScriptFallback?: (answer: string) => void;
}

export class RedisCounterStore implements CounterStore, LiveCredits, ReservationStore {
  private readonly redis: Redis | Cluster;
  private readonly now: (() => number) | undefined;
  private readonly timeoutMs: number | undefined;
  /** undefined for a Cluster: one call's keys share one slot, a batch's would not. */
  private readonly batcher: DecideBatcher<Call> | undefined;
  private readonly watch: ConnectionWatch | undefined;
  private readonly clock = new RedisClock();
  private readonly decideFunction: DecideFunction;
  private readonly onUncount: NonNullable<RedisCounterStoreOptions['onUncount']>;
  private readonly counted: CountedAccounts | undefined;

  constructor(options: RedisCounterStoreOptions) {
    this.redis = options.redis;
    this.now = options.now;
    this.timeoutMs = options.timeoutMs;
    this.onUncount = options.onUncount ?? (() => {});
    this.counted = options.counted;
    this.decideFunction = decideFunction(options.onScriptFallback);
    if (!options.redis.isCluster)
      this.batcher = new DecideBatcher<Call>((calls) => this.runBatch(calls), MAX_IN_FLIGHT, MAX_BATCH);
    if (options.timeoutMs !== undefined) {
      // Calls not yet sent fail at once; the sent ones fail at their deadline (ConnectionWatch).
      this.watch = new ConnectionWatch(options.timeoutMs, (silentMs) => {
        const cause = `no reply for ${silentMs} ms with calls outstanding`;
        this.batcher?.failQueued(new StoreUnavailable('redis', cause));
        options.onStall?.(cause);
      });
      // A new connection may be another server with another clock; learn it before the first decide.
      options.redis.on('ready', () => {
        this.clock.reset();
        void this.redis.time().then(
          ([s, us]) => this.clock.sample(Number(s) * 1000 + Math.floor(Number(us) / 1000)),
          () => {},
        );
      });
    }
  }

  async decide(input: DecideInput): Promise<DecideResult> {
    checkDecideInput(input);
    const call = {
      keys: decideKeys(input),
      args: decideArgs(input, this.now ? Math.floor(this.now()) : undefined),
      sends: 0,
      input,
    };
    let reply: unknown;
    try {
      do {
        reply = await (this.batcher ? this.batcher.run(call) : this.runBatch([call]).then((r) => r[0]));
        if (reply instanceof Error) throw reply;
      } while (reply === EXPIRED && ++call.sends <= MAX_RESENDS);
    } catch (err) {
      // The script may have run (and its late reply may be taken back, a correction): flush the account.
      if (input.endpoint !== '') this.counted?.add(input.accountId);
      if (err instanceof StoreUnavailable) throw err;
      // Redis and connection errors carry no key material (the script never sees API keys).
      throw new StoreUnavailable(
        'redis',
        `decide failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    if (reply === EXPIRED)
      throw new StoreUnavailable('redis', `decide reached Redis past its deadline ${MAX_RESENDS + 1} times`);
    const result = decodeReply(input, reply);
    if (result.allowed && input.endpoint !== '') this.counted?.add(input.accountId);
    if (result.allowed && input.reservation) result.reservation = input.reservation.id;
    return result;
  }

  /** One round trip on the decisions connection (the probe while degraded), watched like a decide. */
  ping(): Promise<unknown> {
    return this.watch ? this.watch.track(this.redis.ping()) : this.redis.ping();
  }

  async settle(reservation: string, units: number | null): Promise<SettleResult> {
    const parts = parseReservationId(reservation);
    if (!parts) return { outcome: 'unknown' };
    const tag = `{a:${parts.accountId}}`;
    const keys = [`${tag}:quota`, `${tag}:credits`, `${tag}:usage`, `${tag}:r:${parts.local}`];
    let reply: unknown;
    try {
      const now = this.now ? String(Math.floor(this.now())) : '';
      const args = [units === null ? '' : String(units), String(parts.expiresAtMs), now];
      // Watched like a decide: a Redis that does not answer fails it (a retry is safe: it settles once).
      const sent = SETTLE.run(this.redis, keys, args);
      reply = await (this.watch ? this.watch.track(sent) : sent);
    } catch (err) {
      // Unknown whether it ran: the usage hash may hold a correction either way.
      this.counted?.add(parts.accountId);
      throw new StoreUnavailable(
        'redis',
        `settle failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return settleResult(reply, () => this.counted?.add(parts.accountId));
  }

  async openReservations(accountId: string): Promise<OpenReservation[]> {
    const prefix = `{a:${accountId}}:r:`;
    const pattern = `${globEscape(prefix)}*`;
    const nodes = this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
    try {
      const keys: string[] = [];
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          keys.push(...found);
          cursor = next;
        } while (cursor !== '0');
      }
      const open: OpenReservation[] = [];
      for (const key of keys) {
        // "<period>|<units>|<credits>|<endpoint>", or "s" once settled (decide.lua, settle.lua).
        const record = /^\d+\|(\d+)\|\d+\|(.*)$/s.exec((await this.redis.get(key)) ?? '');
        const id = `${key.slice(prefix.length)}.${accountId}`;
        const parts = parseReservationId(id);
        if (!record || !parts) continue;
        open.push({ id, endpoint: record[2]!, units: Number(record[1]), expiresAtMs: parts.expiresAtMs });
      }
      return open.sort((a, b) => a.expiresAtMs - b.expiresAtMs);
    } catch (err) {
      throw new StoreUnavailable(
        'redis',
        `listing reservations failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async applyLedgerRow(accountId: string, ledgerId: string, delta: number): Promise<boolean> {
    const tag = `{a:${accountId}}`;
    try {
      return (
        (await APPLY_CREDITS.run(
          this.redis,
          [`${tag}:credits`, `${tag}:credits:applied`, `${tag}:quota`],
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
    this.watch?.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * The calls as ONE decide.lua call in its batch form, with a deadline in Redis time when watched;
   * per call its reply, a ReplyError, or EXPIRED (it reached Redis too late and consumed nothing).
   */
  private async runBatch(calls: Call[]): Promise<unknown[]> {
    let sends = 0;
    for (const call of calls) sends = Math.max(sends, call.sends ?? 0);
    // Each resend doubles the allowance, so a Redis that is merely slow is still reached in time.
    const allowance = this.timeoutMs === undefined ? undefined : this.timeoutMs * 2 ** sends;
    const deadline = allowance === undefined ? undefined : this.clock.deadline(allowance);
    const head = ['#batch', String(calls.length), deadline === undefined ? '' : String(deadline)];
    const sent = this.decideFunction.run(
      this.redis,
      calls.map((c) => c.keys),
      [head, ...calls.map((c) => c.args)],
    );
    const replies =
      this.watch && allowance !== undefined
        ? await this.watch.track(sent, Date.now() + allowance).catch((err: unknown) => {
            // Failed by the watch while the script may have run (Redis stopped before replying).
            if (err instanceof StoreUnavailable)
              void sent.then(
                (late) => this.uncount(calls, late),
                () => {},
              );
            throw err;
          })
        : await sent;
    if (Array.isArray(replies) && replies[0] === -2) {
      this.sampleClock(replies[1]);
      return calls.map(() => EXPIRED);
    }
    const split = splitReplies(calls, replies);
    // -1, message: that decision's evaluation failed (e.g. a key of the wrong type), alone.
    return split.map((reply) => {
      if (reply[0] === -1) return new ReplyError(String(reply[1]));
      this.sampleClock(reply[1]);
      return reply;
    });
  }

  /**
   * The callers of `calls` were answered unavailable, but the script ran: takes back the books of each
   * decision that consumed (allowed, shadow and overage included), so they match what was served.
   */
  private async uncount(calls: Call[], replies: unknown): Promise<void> {
    // A batch past its deadline ({ -2, now }) consumed nothing; so did a denied or failed decision.
    if (!Array.isArray(replies) || replies[0] === -2) return;
    const split = splitReplies(calls, replies);
    const undo: Promise<unknown>[] = [];
    calls.forEach((call, i) => {
      const reply: unknown = split[i];
      const input = call.input;
      if (!Array.isArray(reply) || reply[0] !== 1) return;
      const args = [
        String(reply[periodStartAt(input)]),
        String(input.units),
        String(input.credits?.cost ?? 0),
        input.endpoint,
        // decide.lua keeps the quota count only while a quota limit is in force.
        input.quota !== null ? '1' : '0',
      ];
      // The caller never learnt the reservation id: its record goes too (KEYS[4]).
      const keys: string[] = accountKeys(input.accountId);
      if (input.reservation) keys.push(call.keys[call.keys.length - 1]!);
      undo.push(UNCOUNT.run(this.redis, keys, args));
    });
    if (undo.length === 0) return;
    const results = await Promise.allSettled(undo);
    const failed = results.find((r) => r.status === 'rejected');
    this.onUncount(undo.length, failed?.reason);
  }

  private sampleClock(redisNowMs: unknown): void {
    if (this.now === undefined && typeof redisNowMs === 'number') this.clock.sample(redisNowMs);
  }
}
