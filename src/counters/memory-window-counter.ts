// Counters: the in-process WindowCounter (no Redis) with window-count.lua's semantics.

import type { WindowCount, WindowCounter } from './window-counter.js';

/** Expired counters are swept every this many calls (bounds memory; never changes a result). */
const SWEEP_EVERY = 1024;

export class MemoryWindowCounter implements WindowCounter {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private calls = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async add(items: readonly WindowCount[]): Promise<number[]> {
    const now = this.now();
    if (++this.calls % SWEEP_EVERY === 0)
      for (const [key, c] of this.counters) if (c.expiresAt <= now) this.counters.delete(key);
    return items.map(({ key, hits, ttlSec }) => {
      let counter = this.counters.get(key);
      if (!counter || counter.expiresAt <= now) {
        counter = { value: 0, expiresAt: now + ttlSec * 1000 };
        this.counters.set(key, counter);
      }
      counter.value += hits;
      return counter.value;
    });
  }

  async close(): Promise<void> {
    this.counters.clear();
  }
}
