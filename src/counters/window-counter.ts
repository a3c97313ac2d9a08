// Counters for RLS domains that count as envoyproxy/ratelimit does: one plain counter per descriptor
// and fixed window, incremented by the hits even over the limit (decide.lua's all-or-nothing is not used).

export interface WindowCount {
  /** The counter's key, window included (the caller names it; see should-rate-limit.ts). */
  key: string;
  /** Added to the counter; 0 reads it without counting. */
  hits: number;
  /** Seconds the counter lives once created (the window's length: it is never read after). */
  ttlSec: number;
}

export interface WindowCounter {
  /** Adds every item's hits and returns each counter's value after adding, in order. */
  add(items: readonly WindowCount[]): Promise<number[]>;
  close(): Promise<void>;
}
