// The admin API's small pure parts: token check, body schema, billing month and overage arithmetic, cluster slots.

import { describe, expect, it } from 'vitest';
import { billingMonth } from '../../src/billing/billing-month.js';
import { overageAmountCents } from '../../src/billing/billing-summary.js';
import { clusterSlot } from '../../src/counters/cluster-slot.js';
import type { InputError } from '../../src/errors.js';
import { adminTokenChecker } from '../../src/transports/admin/admin-auth.js';
import { toJsonSchema, validateObject, type ObjectSchema } from '../../src/transports/admin/body-schema.js';

describe('adminTokenChecker', () => {
  const ok = adminTokenChecker('s3cret-token-0123456789');
  it('accepts exactly the bearer token', () => {
    expect(ok('Bearer s3cret-token-0123456789')).toBe(true);
    expect(ok('bearer  s3cret-token-0123456789 ')).toBe(true);
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer s3cret-token-012345678',
      'Bearer s3cret-token-01234567890',
      'Basic s3cret-token-0123456789',
      's3cret-token-0123456789',
    ]) {
      expect(ok(header), String(header)).toBe(false);
    }
  });
  it('refuses an empty configured token', () => expect(() => adminTokenChecker('')).toThrow());
});

describe('validateObject', () => {
  const schema: ObjectSchema = {
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 5 },
      n: { type: 'integer', minimum: 1, not: { const: 3 } },
      c: { type: 'string', nullable: true },
      at: { type: 'string', format: 'date-time' },
    },
    required: ['name'],
  };
  const problems = (value: unknown) => {
    try {
      validateObject(value, schema);
      return [];
    } catch (err) {
      return (err as InputError).problems.map((p) => p.path);
    }
  };
  it('reports every problem at once, unknown fields included', () => {
    expect(problems({ name: 'abc', n: 2, c: null, at: '2026-11-01T00:00:00Z' })).toEqual([]);
    expect(problems({ n: 0, extra: 1, c: 5, at: '2026-11-01' })).toEqual(['extra', 'name', 'n', 'c', 'at']);
    expect(problems({ name: 'toolong', n: 3 })).toEqual(['name', 'n']);
    expect(problems({ name: 'a', n: 1.5 })).toEqual(['n']);
    expect(problems(null)).toEqual(['body']);
    expect(problems([])).toEqual(['body']);
  });
  it('publishes the same rules as JSON Schema', () => {
    expect(toJsonSchema(schema)).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { c: { type: ['string', 'null'] } },
    });
  });
});

describe('billingMonth', () => {
  it('names the period that starts in the month, anchor day aware', () => {
    const nov = billingMonth('2026-11', 1, 0);
    expect([nov.period.startMs, nov.period.endMs]).toEqual([Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)]);
    const feb31 = billingMonth('2027-02', 31, 0);
    expect([feb31.period.startMs, feb31.period.endMs]).toEqual([
      Date.UTC(2027, 1, 28),
      Date.UTC(2027, 2, 31),
    ]);
    expect([feb31.fromMs, feb31.toMs]).toEqual([Date.UTC(2027, 1, 1), Date.UTC(2027, 2, 1)]);
  });
  it('defaults to the month the current period started in', () => {
    expect(billingMonth(undefined, 15, Date.UTC(2026, 10, 3)).month).toBe('2026-10');
    expect(billingMonth(undefined, 1, Date.UTC(2026, 10, 3)).month).toBe('2026-11');
  });
  it('refuses other spellings, naming the field', () => {
    for (const bad of ['2026-13', '2026-1', '26-11', "2026-11' --"])
      expect(() => billingMonth(bad, 1, 0, '--month')).toThrow(/--month/);
  });
});

describe('overageAmountCents', () => {
  it('is pro rata, half-up to the cent, exact for 4-decimal prices', () => {
    expect(overageAmountCents(2345, 0.5)).toBe(117); // 1.1725
    expect(overageAmountCents(2350, 0.5)).toBe(118); // 1.175 → half-up
    expect(overageAmountCents(0, 0.5)).toBe(0);
    expect(overageAmountCents(1, 0.5)).toBe(0); // 0.0005
    expect(overageAmountCents(1_000_000, 0.0001)).toBe(10);
    expect(overageAmountCents(1_000_000_000, 12.3456)).toBe(1_234_560_000); // 12 345 600.00
    expect(overageAmountCents(3, 0.1)).toBe(0); // 0.0003, no float noise
  });
});

describe('clusterSlot', () => {
  it('matches Redis (CLUSTER KEYSLOT) and honours the hash tag', () => {
    expect(clusterSlot('123456789')).toBe(12739);
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('bar')).toBe(5061);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('user1000'));
    expect(clusterSlot('{a:acc_x}:quota')).toBe(clusterSlot('{a:acc_x}:usage'));
    expect(clusterSlot('foo{}{bar}')).toBe(clusterSlot('foo{}{bar}')); // empty tag: the whole key
    expect(clusterSlot('foo{}{bar}')).not.toBe(clusterSlot('bar'));
  });
});
