// The WindowCounter contract (envoyproxy/ratelimit's counting), run on the in-process counters and on real Redis.

import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { WindowCounter } from '../../src/counters/window-counter.js';

export interface WindowCounterSubject {
  counter: WindowCounter;
  /** Lets time pass (ms) as the store sees it. */
  advance(ms: number): Promise<void>;
  /** A key prefix the test may use (and the runner cleans up). */
  prefix: string;
}

export function describeWindowCounter(name: string, open: () => Promise<WindowCounterSubject>): void {
  describe(`WindowCounter contract: ${name}`, () => {
    const key = (s: WindowCounterSubject) => `${s.prefix}${randomUUID()}`;

    test('adds hits and returns the value after adding, even far past any limit', async () => {
      const s = await open();
      const k = key(s);
      expect(await s.counter.add([{ key: k, hits: 2, ttlSec: 3600 }])).toEqual([2]);
      expect(await s.counter.add([{ key: k, hits: 1, ttlSec: 3600 }])).toEqual([3]);
      expect(await s.counter.add([{ key: k, hits: 40, ttlSec: 3600 }])).toEqual([43]);
    });

    test('hits 0 reads the counter without changing it, and a new counter reads 0', async () => {
      const s = await open();
      const k = key(s);
      expect(await s.counter.add([{ key: k, hits: 0, ttlSec: 60 }])).toEqual([0]);
      await s.counter.add([{ key: k, hits: 31, ttlSec: 60 }]);
      expect(await s.counter.add([{ key: k, hits: 0, ttlSec: 60 }])).toEqual([31]);
      expect(await s.counter.add([{ key: k, hits: 0, ttlSec: 60 }])).toEqual([31]);
    });

    test('several counters in one call, each on its own, in order', async () => {
      const s = await open();
      const [a, b] = [key(s), key(s)];
      await s.counter.add([{ key: a, hits: 5, ttlSec: 60 }]);
      expect(
        await s.counter.add([
          { key: a, hits: 1, ttlSec: 60 },
          { key: b, hits: 3, ttlSec: 60 },
        ]),
      ).toEqual([6, 3]);
    });

    test('a counter is gone after its TTL and starts again from the hits', async () => {
      const s = await open();
      const k = key(s);
      await s.counter.add([{ key: k, hits: 7, ttlSec: 1 }]);
      await s.advance(2100);
      expect(await s.counter.add([{ key: k, hits: 1, ttlSec: 1 }])).toEqual([1]);
    });
  });
}
