// Counters: decide.lua registered as a Redis Function (FUNCTION LOAD, then FCALL), so its helpers,
// parsed specs and memos are built once per Redis instead of once per call. As an EVALSHA script, one
// decision per call cost Redis 22-27 µs against 8-11 µs as a Function (bench/lib/script-cost.ts).
//
// The library is named after the script's SHA-1, so two Tollgate versions in a rolling upgrade each
// find their own. A Redis without Functions (before 7.0), or a user the ACL denies FCALL or FUNCTION
// LOAD, gets the same script by EVALSHA, as before.

import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { encodeCommand, EncodedCommand, evalshaEncoded } from './encoded-evalsha.js';
import type { RedisScript } from './redis-script.js';

/** The script's last line runs it as a script; a library registers `main` instead (see decide.lua). */
const RUN_AS_SCRIPT = 'return main(KEYS, ARGV)';

/** The message of an error Redis answered; '' for any other error (a lost connection). */
const replyText = (err: unknown): string => (err instanceof ReplyError ? String((err as Error).message) : '');
const isMissing = (err: unknown) => replyText(err).includes('Function not found');
/**
 * Redis before 7.0 has no FCALL; an ACL may deny it or FUNCTION LOAD ("NOPERM ... run the 'fcall'
 * command"; a key the ACL denies is not this: EVALSHA would meet it too).
 */
const isRefused = (err: unknown) => /^ERR unknown command|^NOPERM .*\bcommand\b/i.test(replyText(err));
const isLoaded = (err: unknown) => replyText(err).includes('already exists');
/**
 * How long one master may take to load the library. A hung master must not hold every later load
 * (after a FUNCTION FLUSH, on a new master) behind its own.
 */
export const LOAD_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`FUNCTION LOAD took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class DecideFunction {
  /** The function's name, also the library's: `tollgate_decide_<first 16 hex digits of the SHA-1>`. */
  readonly name: string;
  /** FUNCTION LOAD's argument. */
  readonly library: string;
  /** False once Redis refused Functions: every call is an EVALSHA from then on. */
  private functions = true;
  private loading: Promise<void> | undefined;

  /** `onFallback`: told once, with Redis' answer, when calls turn to EVALSHA for good. */
  constructor(
    private readonly script: RedisScript,
    private readonly onFallback: (answer: string) => void = () => {},
  ) {
    const source = script.source.trimEnd();
    if (!source.endsWith(RUN_AS_SCRIPT))
      throw new Error(`decide-function: the script must end with "${RUN_AS_SCRIPT}"`);
    this.name = `tollgate_decide_${script.sha.slice(0, 16)}`;
    this.library =
      `#!lua name=${this.name}\n` +
      source.slice(0, -RUN_AS_SCRIPT.length) +
      `redis.register_function('${this.name}', main)\n`;
  }

  /** Whether calls still go as FCALL (false: Redis refused Functions, see above). */
  get usesFunctions(): boolean {
    return this.functions;
  }

  /**
   * One call with KEYS the concatenation of `keys` and ARGV that of `args`. A Redis that lost the
   * function (restart, FUNCTION FLUSH, a new Cluster master) is given it again; FCALL and FUNCTION
   * LOAD refused, the call goes by EVALSHA (which re-caches the script on NOSCRIPT). Neither refusal
   * runs anything, so nothing is counted twice.
   */
  async run(
    redis: Redis | Cluster,
    keys: readonly (readonly string[])[],
    args: readonly (readonly string[])[],
  ): Promise<unknown> {
    if (this.functions) {
      try {
        return await this.fcall(redis, keys, args);
      } catch (err) {
        if (isMissing(err)) {
          await this.load(redis);
          if (this.functions) return await this.fcall(redis, keys, args);
        } else if (isRefused(err)) this.fallBack(err);
        else throw err;
      }
    }
    if (redis.isCluster) return await this.script.run(redis, keys.flat(), args.flat());
    return await evalshaEncoded(redis as Redis, this.script, keys, args);
  }

  /** FUNCTION LOAD on the server (every master of a Cluster): once at a time, however many calls ask. */
  load(redis: Redis | Cluster): Promise<void> {
    this.loading ??= this.loadOn(redis).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async loadOn(redis: Redis | Cluster): Promise<void> {
    const nodes = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
    const results = await Promise.allSettled(
      nodes.map((node) =>
        withTimeout(node.call('FUNCTION', 'LOAD', this.library), LOAD_TIMEOUT_MS).catch((err: unknown) => {
          if (!isLoaded(err)) throw err;
        }),
      ),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // Refused for good (an ACL, a Redis without Functions): scripts.
    const refused = failures.find(isRefused);
    if (refused !== undefined) return this.fallBack(refused);
    // A master that is down, hung or still loading its data fails only the calls it serves: the call
    // is sent again and answers for its own node. Only when no master took the library does it fail.
    if (failures.length === nodes.length) throw failures[0];
  }

  private fallBack(err: unknown): void {
    if (!this.functions) return;
    this.functions = false;
    // Redis echoes the first arguments of an unknown command: account ids, never a secret.
    this.onFallback(replyText(err).slice(0, 200));
  }

  private async fcall(
    redis: Redis | Cluster,
    keys: readonly (readonly string[])[],
    args: readonly (readonly string[])[],
  ): Promise<unknown> {
    let keyCount = 0;
    for (const list of keys) keyCount += list.length;
    // A Cluster routes by the keys ioredis reads from the arguments, which an encoded command hides.
    if (redis.isCluster)
      return await redis.call('FCALL', this.name, keyCount, ...keys.flat(), ...args.flat());
    const head = ['fcall', this.name, String(keyCount)];
    const encoded = encodeCommand([head, ...keys, ...args]);
    return await (redis as Redis).sendCommand(new EncodedCommand('fcall', encoded));
  }
}
