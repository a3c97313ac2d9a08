// The `metering:` block of an endpoint: parsed, refused with the field named, serialized back, and
// the units one call reserves.

import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { unitsToReserve } from '../../src/policy/parse-metering.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { PolicyResolver, unitHits } from '../../src/policy/policy-resolver.js';
import { serializePolicy } from '../../src/policy/serialize-policy.js';

const policy = (metering: string, extra = '') => `
tiers:
  pro: { quota: { requests: 1000000, period: month } }
endpoints:
  chat:
    match: { methods: [POST], path: /v1/chat/** }
    metering: ${metering}
${extra}`;

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml);
  } catch (err) {
    if (err instanceof InputError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('the policy was accepted');
}

describe('metering: block', () => {
  test('parses with defaults, survives serialize → parse, and resolves as a metered call', () => {
    const parsed = parsePolicy(
      policy('{ unit: tokens, reserve: 2000, reserve_header: x-reserve-units, max_reserve: 32000 }'),
    );
    const chat = parsed.endpoints[0]!;
    expect(chat.metering).toEqual({
      unit: 'tokens',
      reserve: 2000,
      reserveHeader: 'x-reserve-units',
      maxReserve: 32000,
      settleWithinMs: 600_000,
    });
    expect(chat.cost).toBe(2000);
    expect(parsePolicy(serializePolicy(parsed))).toEqual(parsed);
    const call = new PolicyResolver(parsed).resolve('pro', 'POST', '/v1/chat/completions');
    expect(call).toMatchObject({ endpoint: 'chat', cost: 2000, metering: chat.metering });
    expect(parsePolicy(policy('{ reserve: 5, settle_within: 30s }')).endpoints[0]!.metering).toEqual({
      unit: 'units',
      reserve: 5,
      maxReserve: 5,
      settleWithinMs: 30_000,
    });
  });

  test('refuses what cannot work, naming the field', () => {
    expect(problems(policy('{ unit: tokens }'))).toEqual(['endpoints.chat.metering.reserve: required']);
    expect(problems(policy('{ reserve: 10, max_reserve: 5 }'))).toEqual([
      'endpoints.chat.metering.max_reserve: must be at least reserve (10)',
    ]);
    expect(problems(policy('{ reserve: 10, reserve_header: x-tollgate-units }'))).toEqual([
      'endpoints.chat.metering.reserve_header: x-tollgate-*, x-api-key and authorization are not forwarded',
    ]);
    expect(problems(policy('{ reserve: 10, reserve_header: "X Units" }'))).toEqual([
      'endpoints.chat.metering.reserve_header: expected a lower-case HTTP header name',
    ]);
    expect(problems(policy('{ reserve: 10, settle_within: 2d }'))).toEqual([
      'endpoints.chat.metering.settle_within: expected a duration from 1s to 1d',
    ]);
    expect(problems(policy('{ reserve: 10, refund: yes }'))[0]).toMatch(
      /^endpoints\.chat\.metering\.refund: unknown key/,
    );
    expect(problems(policy('{ reserve: 10 }\n    cost: 3'))).toEqual([
      'endpoints.chat.cost: a metered endpoint is charged by its settled units, not a fixed cost',
    ]);
  });

  test('the hint header only raises the reservation, up to max_reserve', () => {
    const m = { unit: 'tokens', reserve: 100, maxReserve: 1000, settleWithinMs: 1000 };
    expect(unitsToReserve(m, undefined)).toBe(100);
    expect(unitsToReserve(m, '500')).toBe(500);
    expect(unitsToReserve(m, ' 50 ')).toBe(100);
    expect(unitsToReserve(m, '999999')).toBe(1000);
    expect(unitsToReserve(m, ['700', '20'])).toBe(700);
    for (const junk of ['', '-5', '1e3', '12abc', '0x10', '99999999999'])
      expect(unitsToReserve(m, junk), junk).toBe(100);
  });

  test('a limit with a unit counts the call units; calls is the default unit', () => {
    const parsed = parsePolicy(
      policy(
        '{ reserve: 100, reserve_header: x-units, max_reserve: 900 }',
        `    overrides:
      pro: { limits: [{ name: tokens-per-minute, unit: tokens, limit: 5000, window: 60s }, { name: calls-per-minute, unit: calls, limit: 10, window: 60s }] }`,
      ),
    );
    const limits = parsed.endpoints[0]!.overrides.pro!.limits;
    expect(limits.map((l) => l.unit)).toEqual(['tokens', undefined]);
    expect(parsePolicy(serializePolicy(parsed))).toEqual(parsed);
    const call = new PolicyResolver(parsed).resolve('pro', 'POST', '/v1/chat/x')!;
    expect(unitHits(call, 700).map((l) => [l.name, l.hits])).toEqual([
      ['tokens-per-minute', 700],
      ['calls-per-minute', 1],
    ]);
    const plain = new PolicyResolver(parsePolicy(policy('{ reserve: 1 }'))).resolve(
      'pro',
      'POST',
      '/v1/chat/x',
    )!;
    expect(unitHits(plain, 700)).toBe(plain.limits); // no copy on the common path
  });
});
