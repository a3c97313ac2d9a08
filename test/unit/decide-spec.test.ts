// decide.lua's spec and keys as the store builds them: made once per prepared limits array and account,
// they must still be exactly what a call of its own would get, whatever changes between calls.

import { describe, expect, it } from 'vitest';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { decideKeys, decideSpec } from '../../src/counters/redis-counter-store.js';
import { chatCall, TEN_PER_MINUTE } from '../support/decide-inputs.js';

describe('decideSpec', () => {
  const limits = [TEN_PER_MINUTE];
  const base = chatCall('acc-spec', { limits });
  /** The same call on a limits array met for the first time: a spec made from scratch. */
  const fresh = (input: DecideInput) => decideSpec({ ...input, limits: [...input.limits] });

  it('says each field in its place', () => {
    const input: DecideInput = {
      ...base,
      anchorDay: 31,
      units: 3,
      quota: { limit: 500, overage: true },
      credits: { cost: 6, seed: 10 },
      reservation: { id: 'r', ttlMs: 30_000 },
    };
    expect(decideSpec(input)).toBe('31|3|500|1|6|30000|chat|1|f|10|60000|10|0|1|t:ten');
  });

  it('answers every variation of one prepared call as a call of its own would, in any order', () => {
    const variations: DecideInput[] = [
      base,
      { ...base, anchorDay: 15 },
      { ...base, units: 4 },
      { ...base, quota: { limit: 100, overage: false } },
      { ...base, quota: { limit: 100, overage: true } },
      { ...base, quota: { limit: 200, overage: true } },
      { ...base, credits: { cost: 2, seed: 50 } },
      { ...base, credits: { cost: 3, seed: 50 } },
      { ...base, reservation: { id: 'r', ttlMs: 1000 } },
      { ...base, reservation: { id: 'r', ttlMs: 2000 } },
      { ...base, endpoint: '' },
      { ...base, endpoint: 'search' },
    ];
    for (let round = 0; round < 3; round++)
      for (const input of round === 1 ? [...variations].reverse() : variations) {
        expect(decideSpec(input)).toBe(fresh(input));
        expect(decideSpec(input)).toBe(fresh(input));
      }
    expect(new Set(variations.map((input) => decideSpec(input))).size).toBe(variations.length);
  });
});

describe('decideKeys', () => {
  it('names the keys of the account asked, under its hash tag, only those the call uses', () => {
    const one = chatCall('acc-one', { credits: { cost: 1, seed: 5 } });
    expect(decideKeys(one)).toEqual(['{a:acc-one}:quota', '{a:acc-one}:credits', '{a:acc-one}:usage']);
    expect(decideKeys({ ...one, accountId: 'acc-two' })).toEqual([
      '{a:acc-two}:quota',
      '{a:acc-two}:credits',
      '{a:acc-two}:usage',
    ]);
    expect(decideKeys({ ...one, credits: null, endpoint: '' })).toEqual(['{a:acc-one}:quota']);
    expect(decideKeys({ ...one, credits: null })).toEqual(['{a:acc-one}:quota', '{a:acc-one}:usage']);
  });

  it('stays right past its bound of remembered accounts', () => {
    for (let i = 0; i < 10_050; i++)
      expect(decideKeys(chatCall(`acc-${i}`, { endpoint: '' }))).toEqual([`{a:acc-${i}}:quota`]);
    expect(decideKeys(chatCall('acc-7'))).toEqual(['{a:acc-7}:quota', '{a:acc-7}:usage']);
  });
});
