import { describe, expect, test } from 'vitest';
import { usageBatchOfPairs, usageRows } from '../../src/usage/usage-source.js';

describe('usageRows', () => {
  test('a per-call field counts calls that each took its units and credits', () => {
    expect(usageRows({ '100|chat|n:1:3': '7' })).toEqual([
      { periodStartMs: 100, endpoint: 'chat', calls: 7, units: 7, credits: 21 },
    ]);
  });

  test('per-call and per-metric fields of one period and endpoint add up in one row', () => {
    const rows = usageRows({
      '#batch': 'b1',
      '100|chat|n:1:0': '5',
      '100|chat|n:1:2': '1',
      '100|chat|calls': '2',
      '100|chat|units': '9',
      '100|chat|credits': '4',
      '100|search|n:1:0': '3',
    });
    expect(rows).toEqual([
      { periodStartMs: 100, endpoint: 'chat', calls: 8, units: 15, credits: 6 },
      { periodStartMs: 100, endpoint: 'search', calls: 3, units: 3, credits: 0 },
    ]);
  });

  test('a correction that takes a per-call field back to zero leaves no row', () => {
    const fields = {
      '100|chat|n:1:3': '1',
      '100|chat|calls': '-1',
      '100|chat|units': '-1',
      '100|chat|credits': '-3',
    };
    expect(usageRows(fields)).toEqual([]);
  });

  test('a metric this version does not know leaves the batch with unknown fields', () => {
    // As take-usage.lua answers: the batch id, then field, value, … flat.
    const reply = ['b1', '100|chat|n:1:x', '1', '100|chat|n:1', '1', '100|chat|calls', '2', '#batch', 'b1'];
    const batch = usageBatchOfPairs('b1', 'acc', reply, 1);
    expect(batch.unknown).toEqual(['100|chat|n:1:x', '100|chat|n:1']);
    expect(batch.rows).toEqual([{ periodStartMs: 100, endpoint: 'chat', calls: 2, units: 0, credits: 0 }]);
  });

  test('read flat or as an object, the same fields give the same rows', () => {
    const fields = { '100|chat|n:1:3': '7', '100|chat|calls': '-1', '200|search|n:0:0': '2', '#batch': 'b' };
    const flat = ['b', ...Object.entries(fields).flat()];
    expect(usageBatchOfPairs('b', 'acc', flat, 1)).toEqual({
      batchId: 'b',
      accountId: 'acc',
      rows: usageRows(fields),
    });
    expect(usageRows(fields)).toHaveLength(2);
  });
});
