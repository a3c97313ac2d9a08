// Counters: FAILURE_MODE around the Redis store — what a decision gets while Redis does not answer.
//
// Healthy: every decision goes to Redis, however long it waits in this process: liveness is judged on
// the connection (RedisCounterStore's ConnectionWatch: silent for REDIS_TIMEOUT_MS with calls
// outstanding), not on one call's wall time, so a burst on a busy event loop is decided, not degraded.
// A stalled or lost connection marks the store degraded; from then on no decision touches Redis
// (no per-request reconnects): `closed` throws StoreUnavailable, `open` allows, `local` decides with
// per-replica in-memory counters. One background probe (PING) runs at a jittered interval and ends
// the degraded state at its first answer. ioredis reconnects on its own schedule.
//
// A decide failed for a stall carried a deadline in Redis time and is failed only once it has passed:
// if it reaches Redis later, decide.lua consumes nothing, so a call answered 503 is never counted.

import { StoreUnavailable } from '../errors.js';
import type { FailureMode } from '../config.js';
import { billingPeriod } from '../billing/billing-period.js';
import { checkDecideInput } from './check-decide-input.js';
import type { CounterStore, DecideInput, DecideResult, DegradedState } from './counter-store.js';

/** Default ms between probes while degraded; each waits 50–150 % of it so replicas do not probe in step. */
const PROBE_INTERVAL_MS = 100;
/** Redis reply errors that mean "cannot serve now" rather than "this account's data is bad". */
const UNAVAILABLE_REPLY = /^(BUSY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|OOM|READONLY|NOREPLICAS)\b/;

export interface FailSafeOptions {
  inner: CounterStore;
  mode: FailureMode;
  /** REDIS_TIMEOUT_MS: the longest a probe waits (decisions are bounded by the inner store's watch). */
  timeoutMs: number;
  /** One cheap round trip to the shared store (PING); the single background probe while degraded. */
  probe: () => Promise<unknown>;
  /** Per-replica insurance counters, required for mode `local`. */
  local?: CounterStore;
  probeIntervalMs?: number;
}

export class FailSafeCounterStore implements CounterStore, DegradedState {
  private readonly options: FailSafeOptions;
  private readonly listeners = new Set<(degraded: boolean, cause?: string) => void>();
  private down = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: FailSafeOptions) {
    if (options.mode === 'local' && !options.local)
      throw new Error('FailSafeCounterStore: mode local needs local counters');
    this.options = options;
  }

  get degraded(): boolean {
    return this.down;
  }

  onChange(listener: (degraded: boolean, cause?: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  decide(input: DecideInput): Promise<DecideResult> {
    if (this.down) {
      if (this.options.mode === 'closed')
        return Promise.reject(new StoreUnavailable('redis', 'unreachable; waiting for it to answer again'));
      return this.fallback(input);
    }
    // Healthy (every decision): the inner store's answer, with a handler for its failure only.
    let pending: Promise<DecideResult>;
    try {
      pending = this.options.inner.decide(input);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(undefined, (err: unknown) => this.failed(err, input));
  }

  /** A decide the inner store failed: degraded when Redis did not answer, then as FAILURE_MODE says. */
  private failed(err: unknown, input: DecideInput): Promise<DecideResult> {
    if (!(err instanceof StoreUnavailable)) throw err;
    if (marksDown(err)) this.markDown(err.message);
    if (this.options.mode === 'closed') throw err;
    return this.fallback(input);
  }

  /** Starts degraded (Redis unreachable at start) without a failed decision first. */
  startDegraded(cause = 'redis unreachable at start'): void {
    this.markDown(cause);
  }

  /** The inner store saw its connection stall: degraded at once, before its calls in flight fail. */
  markUnavailable(cause: string): void {
    this.markDown(cause);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    await Promise.all([this.options.inner.close(), this.options.local?.close()]);
  }

  private async fallback(input: DecideInput): Promise<DecideResult> {
    checkDecideInput(input);
    const { local } = this.options;
    if (local) return { ...(await local.decide(input)), degraded: true };
    return allowedWithoutCounters(input, Date.now());
  }

  private markDown(cause: string): void {
    if (this.down || this.closed) return;
    this.setDown(true, cause);
    this.scheduleProbe();
  }

  private setDown(down: boolean, cause?: string): void {
    this.down = down;
    for (const listener of this.listeners) listener(down, cause);
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    const interval = this.options.probeIntervalMs ?? PROBE_INTERVAL_MS;
    this.probeTimer = setTimeout(() => void this.runProbe(), interval * (0.5 + Math.random()));
    this.probeTimer.unref();
  }

  private async runProbe(): Promise<void> {
    try {
      await withTimeout(this.options.probe(), this.options.timeoutMs);
      if (!this.closed) this.setDown(false);
    } catch {
      this.scheduleProbe();
    }
  }
}

/** A stalled or dead connection means degraded; a script error on one account's data does not. */
function marksDown(err: StoreUnavailable): boolean {
  const cause = err.cause as { name?: string; message?: string } | undefined;
  if (cause?.name !== 'ReplyError') return true;
  return UNAVAILABLE_REPLY.test(cause.message ?? '');
}

/**
 * Rejects with StoreUnavailable after `ms` — checked once more after the next poll phase, so a reply
 * waiting unread in a busy process's socket still counts; a late answer or failure is then ignored.
 */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => setImmediate(() => reject(new StoreUnavailable('redis', `no answer within ${ms} ms`))),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * FAILURE_MODE=open: allowed, nothing counted. The RateLimit headers then show every policy at its
 * full size in a fresh window (nothing is known), and credits at the balance Postgres last had.
 */
export function allowedWithoutCounters(input: DecideInput, nowMs: number): DecideResult {
  const period = billingPeriod(nowMs, input.anchorDay);
  return {
    allowed: true,
    nowMs,
    limits: input.limits.map((l) => ({
      name: l.name,
      state: 'ok',
      remaining: l.algorithm === 'token_bucket' ? (l.burst ?? l.limit) : l.limit,
      resetMs: l.windowMs,
      retryAfterMs: 0,
    })),
    quota: input.quota && {
      state: 'ok',
      limit: input.quota.limit,
      used: 0,
      remaining: input.quota.limit,
      periodStartMs: period.startMs,
      periodEndMs: period.endMs,
    },
    credits: input.credits && { state: 'ok', balance: input.credits.seed },
    degraded: true,
  };
}
