import { describe, expect, test } from 'vitest';
import { recentResults } from '../../src/recent-results.js';

describe('recentResults', () => {
  test('makes each result once while it is held, and again after the bound clears it', () => {
    const made: string[] = [];
    const of = recentResults(3, (key) => {
      made.push(key);
      return { key };
    });
    const a = of('a');
    expect(of('a')).toBe(a);
    of('b');
    of('c');
    expect(made).toEqual(['a', 'b', 'c']);
    // Full: the next new key clears the cache, so 'a' is made again (an equal value, a new object).
    of('d');
    expect(of('a')).toEqual(a);
    expect(of('a')).not.toBe(a);
    expect(made).toEqual(['a', 'b', 'c', 'd', 'a']);
  });
});
