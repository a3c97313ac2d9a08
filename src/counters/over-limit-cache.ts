// Counters: OVER_LIMIT_CACHE=on — a key already over a rate limit is answered in-process until its retry time.
//
// An abusive client hammering a denied key then costs no Redis round trip. The trade-off: a cached
// denial ignores what happens in Redis meanwhile (another replica's traffic can only push the retry
// time later, but an operator resetting the counters or a policy change is not seen until the entry
// expires). Retry-After stays exact for this replica: the cached answer's times count down with the
// local clock from the moment Redis answered. Only rate-limit denials are cached (credits can be
// topped up at any time; quota is rarely hammered), and never degraded answers.

import type { LimitCheck } from '../policy/limit-rule.js';
import type { CounterStore, DecideInput, DecideResult, DegradedState } from './counter-store.js';

/** Bound on remembered denials; the oldest are dropped first beyond it. */
const MAX_ENTRIES = 10_000;

interface Entry {
  result: DecideResult;
  /** Local monotonic ms when Redis answered. */
  at: number;
  /** Local monotonic ms until which the call is denied. */
  until: number;
}

export interface OverLimitCacheOptions {
  inner: CounterStore & DegradedState;
  /** Monotonic local clock, ms. */
  now?: () => number;
  maxEntries?: number;
}

export class OverLimitCache implements CounterStore, DegradedState {
  private readonly inner: CounterStore & DegradedState;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  /** Decisions answered from the cache (tests, metrics). */
  hits = 0;

  constructor(options: OverLimitCacheOptions) {
    this.inner = options.inner;
    this.now = options.now ?? (() => performance.now());
    this.maxEntries = options.maxEntries ?? MAX_ENTRIES;
  }

  get degraded(): boolean {
    return this.inner.degraded;
  }

  onChange(listener: (degraded: boolean) => void): () => void {
    return this.inner.onChange(listener);
  }

  async decide(input: DecideInput): Promise<DecideResult> {
    const key = cacheKey(input);
    const cached = this.entries.get(key);
    if (cached) {
      const now = this.now();
      if (now < cached.until) {
        this.hits++;
        return aged(cached.result, now - cached.at);
      }
      this.entries.delete(key);
    }
    const at = this.now();
    const result = await this.inner.decide(input);
    const retryMs = Math.max(0, ...result.limits.map((l) => (l.state === 'denied' ? l.retryAfterMs : 0)));
    if (!result.allowed && retryMs > 0 && !result.degraded)
      this.remember(key, { result, at, until: at + retryMs });
    return result;
  }

  close(): Promise<void> {
    this.entries.clear();
    return this.inner.close();
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size <= this.maxEntries) return;
    const now = this.now();
    for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }
}

/** The account and every limit as configured: a policy change makes a new key. Cost is not part of it. */
function cacheKey(input: DecideInput): string {
  const limit = (l: LimitCheck) =>
    `${l.id}|${l.algorithm}|${l.limit}|${l.windowMs}|${l.burst ?? ''}|${l.shadow ? 1 : 0}|${l.hits}`;
  return `${input.accountId}\n${input.limits.map(limit).join('\n')}`;
}

/** The remembered denial `elapsedMs` later: every wait shortened by the time that passed. */
function aged(result: DecideResult, elapsedMs: number): DecideResult {
  const less = (ms: number) => Math.max(0, Math.ceil(ms - elapsedMs));
  return {
    ...result,
    nowMs: result.nowMs + Math.floor(elapsedMs),
    limits: result.limits.map((l) => ({
      ...l,
      resetMs: less(l.resetMs),
      retryAfterMs: l.state === 'denied' ? Math.max(1, less(l.retryAfterMs)) : l.retryAfterMs,
    })),
  };
}
