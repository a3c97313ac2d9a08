// Counters: Redis liveness judged on the connection — "nothing received for REDIS_TIMEOUT_MS while calls
// are outstanding" — never on how long one queued call waited in this (possibly busy) process.
//
// Silence runs from the later of the last reply read and the oldest unanswered call's write (replies
// come in order). A busy event loop runs its timers before it reads sockets, and one long poll phase
// may read a reply early and then spend 100s of ms on other sockets, so neither "now" nor a timer
// tells "Redis is silent" from "the reply waits unread". The verdict: the silence timer fires (timers
// phase) at least REDIS_TIMEOUT_MS into the silence; one setImmediate later, a whole poll phase that
// began after that moment has read every readable socket. Nothing from Redis in it = stalled.

import { performance } from 'node:perf_hooks';
import { StoreUnavailable } from '../errors.js';

interface Tracked {
  /** performance.now() when the call was written. */
  sentAt: number;
  /** Date.now() before which this call must not be failed (its deadline in Redis time, mapped here). */
  notBeforeMs: number;
  reject(err: StoreUnavailable): void;
}

export class ConnectionWatch {
  private readonly tracked = new Set<Tracked>();
  /** performance.now() of the last reply read. */
  private lastProgress = 0;
  private timer: NodeJS.Timeout | undefined;
  private confirming = false;

  /** `onStall` runs once per stall, after every outstanding call has been failed or scheduled to fail. */
  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: (silentMs: number) => void = () => {},
    private readonly store: 'redis' | 'postgres' = 'redis',
  ) {}

  get outstanding(): number {
    return this.tracked.size;
  }

  /**
   * `work`'s outcome, unless the connection is declared stalled first: then a StoreUnavailable, but not
   * before `notBeforeMs` (Date.now()), so a call that may still run in Redis is failed only once Redis
   * would refuse it (decide.lua consumes nothing past the deadline it carries).
   */
  track<T>(work: Promise<T>, notBeforeMs = 0): Promise<T> {
    if (this.tracked.size === 0) this.arm(this.timeoutMs);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Tracked = {
        sentAt: performance.now(),
        notBeforeMs,
        reject: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      this.tracked.add(entry);
      const finish = () => {
        if (this.tracked.delete(entry)) this.lastProgress = performance.now();
        const first = !settled;
        settled = true;
        return first;
      };
      work.then(
        (value) => finish() && resolve(value),
        (err: unknown) => finish() && reject(err),
      );
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref();
  }

  /** When the current silence began: the last reply, or the oldest unanswered call's write if later. */
  private silenceStart(): number {
    const oldest = this.tracked.values().next().value as Tracked;
    return Math.max(this.lastProgress, oldest.sentAt);
  }

  private check(): void {
    this.timer = undefined;
    if (this.tracked.size === 0 || this.confirming) return;
    const firedAt = performance.now();
    const silent = firedAt - this.silenceStart();
    if (silent < this.timeoutMs) {
      this.arm(this.timeoutMs - silent);
      return;
    }
    this.confirming = true;
    // After the poll phase that follows this timer: a reply waiting in the socket has been read.
    setImmediate(() => {
      this.confirming = false;
      if (this.tracked.size === 0) return;
      const start = this.silenceStart();
      if (start > firedAt) this.arm(Math.max(1, this.timeoutMs - (performance.now() - start)));
      else this.stall(Math.round(performance.now() - start));
    });
  }

  private stall(silentMs: number): void {
    const err = new StoreUnavailable(this.store, `no reply for ${silentMs} ms with calls outstanding`);
    const now = Date.now();
    for (const entry of this.tracked) {
      const wait = entry.notBeforeMs - now;
      if (wait <= 0) entry.reject(err);
      else setTimeout(() => entry.reject(err), wait).unref();
    }
    // Forgotten: a late reply is ignored; the next call starts a fresh silence measurement.
    this.tracked.clear();
    this.onStall(silentMs);
  }
}
