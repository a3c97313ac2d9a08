// checkDecideInput: a nonsense decision is refused before any store sees it, naming the field.

import { describe, expect, it } from 'vitest';
import { checkDecideInput } from '../../src/counters/check-decide-input.js';
import type { DecideInput } from '../../src/counters/counter-store.js';

const input = (): DecideInput => ({
  accountId: 'acc_check',
  anchorDay: 1,
  units: 1,
  endpoint: 'chat',
  quota: { limit: 100, overage: false },
  credits: null,
  limits: [
    {
      id: 't:per-second',
      name: 'per-second',
      algorithm: 'fixed_window',
      limit: 10,
      windowMs: 1000,
      shadow: false,
      hits: 1,
    },
  ],
});

describe('checkDecideInput', () => {
  it('passes a sound decision', () => {
    expect(() => checkDecideInput(input())).not.toThrow();
  });

  it.each<[string, (d: DecideInput) => void, RegExp]>([
    ['an empty account', (d) => (d.accountId = ''), /accountId must be a non-empty string/],
    ['anchor day 32', (d) => (d.anchorDay = 32), /anchorDay must be 1..31/],
    ['fractional units', (d) => (d.units = 1.5), /units must be an integer >= 0/],
    // decide.lua joins a call's spec with "|" and names usage fields "<period>|<endpoint>|…".
    ['"|" in the endpoint', (d) => (d.endpoint = 'chat|x'), /endpoint must not contain "\|"/],
    [
      '"|" in a limit id',
      (d) => (d.limits = [{ ...d.limits[0]!, id: 't:a|b' }]),
      /limits\[0\]\.id must not contain/,
    ],
    [
      'a repeated limit id',
      (d) => (d.limits = [d.limits[0]!, { ...d.limits[0]! }]),
      /limits\[1\]\.id "t:per-second" is repeated/,
    ],
    [
      'an unknown algorithm',
      (d) => (d.limits = [{ ...d.limits[0]!, algorithm: 'leaky' as 'fixed_window' }]),
      /algorithm "leaky" is unknown/,
    ],
    [
      'a zero reservation hold',
      (d) => (d.reservation = { id: 'x', ttlMs: 0 }),
      /reservation\.ttlMs must be an integer >= 1/,
    ],
  ])('refuses %s, naming the field', (_, spoil, message) => {
    const d = input();
    spoil(d);
    expect(() => checkDecideInput(d)).toThrow(message);
  });
});
