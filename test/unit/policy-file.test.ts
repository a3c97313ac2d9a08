// The policy file grammar (src/policy/demo-policy.yaml): the demo policy, every error with its path, and round-trips.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parsePolicy, serializePolicy } from '../../src/policy/policy-file.js';
import { demoPolicy } from '../support/policies.js';

const DEMO_YAML = readFileSync(new URL('../../src/policy/demo-policy.yaml', import.meta.url), 'utf8');

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected parsePolicy to throw');
}

describe('parsePolicy', () => {
  test('the demo policy parses to the README policy object (tier order and endpoint order kept)', () => {
    const policy = parsePolicy(DEMO_YAML);
    expect(policy).toStrictEqual(demoPolicy());
    expect(Object.keys(policy.tiers)).toEqual(['free', 'pro', 'enterprise']);
  });

  test('durations, defaults, shadow and lower-case methods', () => {
    const policy = parsePolicy(`
tiers:
  "7":
    limits:
      - { name: a.b_c-1, limit: 1, window: 500ms, shadow: true }
      - { name: d, limit: 2, window: 1d, algorithm: token_bucket }
    quota: { requests: 0, period: month, overage: deny }
    credits_per_request: 3
endpoints:
  z: { match: { methods: [get, Post], path: /v1/items/*/raw } }
  a: { match: { path: / }, cost: 0 }
`);
    expect(policy.tiers['7']).toStrictEqual({
      name: '7',
      limits: [
        { name: 'a.b_c-1', algorithm: 'sliding_window', limit: 1, windowMs: 500, shadow: true },
        { name: 'd', algorithm: 'token_bucket', limit: 2, windowMs: 86_400_000, shadow: false },
      ],
      quota: { units: 0, overage: false },
      creditsPerRequest: 3,
    });
    expect(policy.endpoints).toStrictEqual([
      { name: 'z', methods: ['GET', 'POST'], path: '/v1/items/*/raw', cost: 1, overrides: {} },
      { name: 'a', methods: [], path: '/', cost: 0, overrides: {} },
    ]);
  });

  test('a broken file reports every problem with its path, and nothing else', () => {
    expect(
      problems(`
tiers:
  free:
    limtis: []
    limits:
      - { name: per-minute, limit: 0, window: 60 }
      - { name: per-minute, algorithm: fixed_window, limit: 2.5, window: 1m, burst: 3 }
      - { name: Bad Name, algorithm: leaky_bucket, limit: 1, window: 1w }
      - { name: tb, algorithm: token_bucket, limit: 1, window: 1s, burst: 0, shadow: yes }
      - { limit: 1 }
    quota: { requests: 5 }
    credits_per_request: -1
    upgrade_url: example.com
    price: { monthly: -1, currency: USD, vat: 20 }
  pro:
    quota: 100
  team: [1]
  "-x": { quota: unlimited }
endpoints:
  default:
    match: { methods: GET, path: v1/** }
    cost: -2
    overrides:
      gold: {}
      free: { allowed: maybe, limits: [{ name: per-minute, limit: 1, window: 1s }] }
  deep:
    match: { path: /v1/**/x }
    overrides: { pro: { limits: [{ name: a, limit: 1, window: 1s }, { name: a, limit: 2, window: 2s }] } }
  star:
    match: { path: /v1/ab*, method: [GET] }
    sizes: 1
  nomatch: {}
extra: true
`),
    ).toEqual([
      'policy.extra: unknown key (expected one of: tiers, endpoints, downgrade_tier)',
      'tiers.free.limtis: unknown key (expected one of: limits, quota, credits_per_request, upgrade_url, price, stripe_prices, rank, downgrade_tier)',
      'tiers.free.limits[0].limit: expected an integer >= 1 and <= 2147483647',
      'tiers.free.limits[0].window: expected a duration like 60s, 1m, 1h, 1d',
      'tiers.free.limits[1].name: "per-minute" is already used at tiers.free.limits[0]',
      'tiers.free.limits[1].limit: expected an integer >= 1 and <= 2147483647',
      'tiers.free.limits[1].burst: only allowed with algorithm token_bucket',
      'tiers.free.limits[2].name: expected a name of a-z, 0-9, _ . - starting with a letter or digit (at most 64 characters)',
      'tiers.free.limits[2].algorithm: expected one of: fixed_window, sliding_window, token_bucket',
      'tiers.free.limits[2].window: expected a duration like 60s, 1m, 1h, 1d',
      'tiers.free.limits[3].shadow: expected true or false',
      'tiers.free.limits[3].burst: expected an integer >= 1 and <= 2147483647',
      'tiers.free.limits[4].name: required',
      'tiers.free.limits[4].window: required',
      'tiers.free.quota.period: required',
      'tiers.free.credits_per_request: expected an integer >= 0 and <= 2147483647',
      'tiers.free.upgrade_url: expected an http(s) URL',
      'tiers.free.price.vat: unknown key (expected one of: monthly, overage_per_1000, currency, first_month)',
      'tiers.free.price.monthly: expected a number >= 0 and < 10000000000',
      'tiers.free.price.currency: expected a 3-letter lower-case currency code like usd',
      'tiers.pro.quota: expected unlimited or { requests, period: month, overage: allow|deny }',
      'tiers.team: expected a mapping',
      'tiers.-x: expected a name of a-z, 0-9, _ . - starting with a letter or digit (at most 64 characters)',
      'endpoints.default: "default" is reserved for calls that match no endpoint',
      'endpoints.default.match.methods: expected a list of HTTP methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)',
      'endpoints.default.match.path: expected a path starting with /',
      'endpoints.default.cost: expected an integer >= 0 and <= 2147483647',
      'endpoints.default.overrides.gold: unknown tier',
      'endpoints.default.overrides.free.allowed: expected true or false',
      'endpoints.default.overrides.free.limits[0].name: "per-minute" is already a limit of tier free',
      'endpoints.deep.match.path: ** is only allowed as the last segment (/**)',
      'endpoints.deep.overrides.pro.limits[1].name: "a" is already used at endpoints.deep.overrides.pro.limits[0]',
      'endpoints.star.sizes: unknown key (expected one of: match, cost, metering, overrides)',
      'endpoints.star.match.method: unknown key (expected one of: methods, path)',
      'endpoints.star.match.path: * and ** must be a whole segment',
      'endpoints.nomatch.match: required',
    ]);
  });

  test('a missing or empty tiers section, and a document that is not a mapping', () => {
    expect(problems('')).toEqual(['tiers: required: at least one tier']);
    expect(problems('tiers: {}\n')).toEqual(['tiers: required: at least one tier']);
    expect(problems('- a\n')).toEqual(['policy: expected a mapping']);
    expect(
      problems(
        `tiers:\n  free: { quota: unlimited, limits: [{ name: ${'a'.repeat(65)}, limit: 1, window: 1s }] }\n`,
      ),
    ).toEqual([
      'tiers.free.limits[0].name: expected a name of a-z, 0-9, _ . - starting with a letter or digit (at most 64 characters)',
    ]);
  });

  test('YAML syntax errors and duplicate keys are reported with line and column', () => {
    expect(problems('tiers:\n  free: [\n  x: 1\n')).toEqual([
      'line 3, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems('tiers:\n  free: { quota: unlimited }\n  free: { quota: unlimited }\n')).toEqual([
      'line 3, column 3: Map keys must be unique',
    ]);
  });
});

describe('serializePolicy', () => {
  test('the demo policy round-trips through YAML', () => {
    const demo = parsePolicy(DEMO_YAML);
    const yaml = serializePolicy(demo);
    expect(parsePolicy(yaml)).toStrictEqual(demo);
    expect(serializePolicy(parsePolicy(yaml))).toBe(yaml);
  });

  test('every field round-trips: shadow, burst, odd durations, overage, price, empty methods', () => {
    const policy = parsePolicy(`
tiers:
  t1:
    limits:
      - { name: a, algorithm: token_bucket, limit: 7, window: 1500ms, burst: 9, shadow: true }
      - { name: b, algorithm: fixed_window, limit: 1, window: 90s }
    quota: { requests: 12345, period: month, overage: allow }
    credits_per_request: 4
    upgrade_url: https://example.com/up?x=1
    price: { monthly: 0, overage_per_1000: 1.25, currency: eur }
  t2: { quota: unlimited }
endpoints:
  e1: { match: { methods: [DELETE], path: /a/*/b }, cost: 0, overrides: { t2: { allowed: false, limits: [{ name: c, limit: 1, window: 25h }] } } }
  e2: { match: { path: /** } }
`);
    expect(parsePolicy(serializePolicy(policy))).toStrictEqual(policy);
  });
});

describe('input Postgres or the YAML builder would refuse is a problem naming the field', () => {
  const tier = (body: string) => `tiers:\n  free:\n${body}`;
  test.each([
    [
      tier('    limits:\n      - { name: m, limit: 2147483648, window: 1m }\n'),
      'tiers.free.limits[0].limit: expected an integer >= 1 and <= 2147483647',
    ],
    [
      tier('    credits_per_request: 99999999999\n'),
      'tiers.free.credits_per_request: expected an integer >= 0 and <= 2147483647',
    ],
    [
      tier('    price: { monthly: 1e12, currency: usd }\n'),
      'tiers.free.price.monthly: expected a number >= 0 and < 10000000000',
    ],
    [
      `${tier('    limits: []\n')}endpoints:\n  e:\n    match: { path: /v1/x }\n    cost: 3000000000\n`,
      'endpoints.e.cost: expected an integer >= 0 and <= 2147483647',
    ],
    ['a: &x 1\nb:\n  <<: *undefined_alias\n', 'yaml: Unresolved alias'],
  ])('%j', (yaml, expected) => {
    expect(problems(yaml).join('\n')).toContain(expected);
  });

  test.each(['/v1/%65xport', '/v1/a;b', '/v1/x\\y', '/v1/../x', '/v1/x./y', '/v1/caf\u00e9'])(
    'endpoint path %j could never match a request path: refused',
    (path) => {
      const yaml = `${tier('    limits: []\n')}endpoints:\n  e:\n    match: { path: ${JSON.stringify(path)} }\n`;
      expect(problems(yaml).join('\n')).toContain('endpoints.e.match.path: segments are plain ASCII');
    },
  );
});
