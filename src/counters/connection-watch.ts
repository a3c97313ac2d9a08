// Counters: Redis liveness judged on the connection — "nothing received for REDIS_TIMEOUT_MS while calls
// are outstanding" — never on how long one queued call waited in this (possibly busy) process.
//
// A busy event loop runs its timers before it reads sockets, so a timer alone cannot tell "Redis is
// silent" from "the reply is waiting in the socket buffer". When the silence timer fires, the verdict
// waits one setImmediate: by then the poll phase has read every readable socket, and any reply that
// was there has counted as progress. Only then is the connection declared stalled.

import { performance } from 'node:perf_hooks';
import { StoreUnavailable } from '../errors.js';

interface Tracked {
  /** Date.now() before which this call must not be failed (its deadline in Redis time, mapped here). */
  notBeforeMs: number;
  reject(err: StoreUnavailable): void;
}

export class ConnectionWatch {
  private readonly tracked = new Set<Tracked>();
  /** performance.now() of the last reply (or of the first call after an idle spell). */
  private lastProgress = 0;
  private timer: NodeJS.Timeout | undefined;
  private confirming = false;

  /** `onStall` runs once per stall, after every outstanding call has been failed or scheduled to fail. */
  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: (silentMs: number) => void = () => {},
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
    if (this.tracked.size === 0) {
      this.lastProgress = performance.now();
      this.arm(this.timeoutMs);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Tracked = {
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

  private check(): void {
    this.timer = undefined;
    if (this.tracked.size === 0) return;
    const silent = performance.now() - this.lastProgress;
    if (silent < this.timeoutMs) return this.arm(this.timeoutMs - silent);
    if (this.confirming) return;
    this.confirming = true;
    // After the poll phase: a reply that sat unread in the socket has now been read.
    setImmediate(() => {
      this.confirming = false;
      if (this.tracked.size === 0) return;
      const stillSilent = performance.now() - this.lastProgress;
      if (stillSilent < this.timeoutMs) return this.arm(this.timeoutMs - stillSilent);
      this.stall(Math.round(stillSilent));
    });
  }

  private stall(silentMs: number): void {
    const err = new StoreUnavailable('redis', `no reply for ${silentMs} ms with calls outstanding`);
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
