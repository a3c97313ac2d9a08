// Descriptor matching as envoyproxy/ratelimit's GetLimit does it, from its README examples (imported
// from test/fixtures/envoy-ratelimit/valid), then the decisions: replaces, unlimited, shadow mode.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { MemoryWindowCounter } from '../../src/counters/memory-window-counter.js';
import { InputError } from '../../src/errors.js';
import type { Policy } from '../../src/policy/policy.js';
import { DescriptorMatcher } from '../../src/rls/descriptor-matcher.js';
import { importEnvoyRatelimit } from '../../src/rls/import-envoy-ratelimit.js';
import { createHash } from 'node:crypto';
import { counterAccountId, planAll } from '../../src/rls/plan-descriptor.js';
import {
  createShouldRateLimit,
  UNLIMITED_REMAINING,
  type RlsDescriptor,
} from '../../src/rls/should-rate-limit.js';

const DIR = new URL('../fixtures/envoy-ratelimit/valid/', import.meta.url);
const { domains } = importEnvoyRatelimit(
  readdirSync(DIR)
    .sort()
    .map((name) => ({ name, text: readFileSync(new URL(name, DIR), 'utf8') })),
);
const matcher = new DescriptorMatcher(domains);

/** "k=v,k2=v2" → entries. */
const entries = (text: string) =>
  text.split(',').map((pair) => ({ key: pair.split('=')[0]!, value: pair.split('=').slice(1).join('=') }));

describe('matching (exact value, then wildcard, then key only; depth must match)', () => {
  // [domain, request entries, the rule that applies (its place in the tree) or null]
  test.each([
    // Example 1: each database value has its own rule; "default" is just a value; others have none.
    ['mongo_cps', 'database=users', 'database=users'],
    ['mongo_cps', 'database=default', 'database=default'],
    ['mongo_cps', 'database=orders', null],
    ['mongo_cps', 'collection=users', null],
    // Example 2: key-only rules match any value; nested rules need the whole path.
    ['messaging', 'message_type=marketing,to_number=2061234567', 'message_type=marketing/to_number'],
    ['messaging', 'to_number=2061234567', 'to_number'],
    ['messaging', 'message_type=marketing', null], // a node without a limit
    ['messaging', 'message_type=transactional,to_number=2061234567', null],
    // Example 3: the exact value wins over the key-only rule at the same level.
    ['edge_proxy_per_ip', 'remote_address=50.0.0.5', 'remote_address=50.0.0.5'],
    ['edge_proxy_per_ip', 'remote_address=10.0.0.1', 'remote_address'],
    // Example 4: the limit on the node reached by the last entry, never a shallower or deeper one.
    ['example4', 'key=value', 'key=value'],
    ['example4', 'key=value,subkey=subvalue', 'key=value/subkey=subvalue'],
    ['example4', 'key=value,subkey=other', null],
    ['example4', 'key=value,subkey=subvalue,extra=1', null],
    ['example4', 'subkey=subvalue', null],
    // Wildcards: exact before wildcard before key-only; `*` matches 0+ characters.
    ['features', 'path=/foo/bar', 'path=/foo/bar'],
    ['features', 'path=/foo/baz', 'path=/foo/*'],
    ['features', 'path=/foo/', 'path=/foo/*'],
    ['features', 'path=/bar', null],
    ['features', 'tenant=internal', 'tenant=internal'],
    ['features', 'tenant=acme', 'tenant'],
    ['features', 'free_pass=yes', null], // leaf without rate_limit: whitelisted
    ['unknown_domain', 'database=users', null],
  ])('%s %s → %s', (domain, request, rule) => {
    expect(matcher.match(domain, entries(request))?.rulePath ?? null).toBe(rule);
  });

  test('key-only rules count each value apart; share_threshold counts a wildcard once', () => {
    expect(matcher.match('features', entries('tenant=a'))!.counted).toEqual(['tenant', 'a']);
    expect(matcher.match('features', entries('path=/shared/x'))!.counted).toEqual(['path', '/shared/*']);
    expect(matcher.match('features', entries('path=/foo/x'))!.counted).toEqual(['path', '/foo/x']);
  });
});

describe('decisions', () => {
  const policy: Policy = { tiers: {}, endpoints: [], ratelimitDomains: domains };
  const start = Date.UTC(2026, 0, 1);
  const setup = () => {
    const clock = { now: start };
    const counters = new MemoryCounterStore({ now: () => clock.now });
    return {
      clock,
      should: createShouldRateLimit({
        counters,
        windows: new MemoryWindowCounter(() => clock.now),
        domains: () => policy.ratelimitDomains ?? {},
        now: () => clock.now,
      }),
    };
  };
  const d = (text: string, extra: Partial<RlsDescriptor> = {}): RlsDescriptor => ({
    entries: entries(text),
    ...extra,
  });

  test('fixed window per value: the 3rd call of 2 per minute is over; the window edge resets it', async () => {
    const { clock, should } = setup();
    const codes = [];
    for (let i = 0; i < 3; i++)
      codes.push((await should({ domain: 'features', descriptors: [d('path=/foo/a')], hitsAddend: 0 })).over);
    expect(codes).toEqual([false, false, true]);
    expect((await should({ domain: 'features', descriptors: [d('path=/foo/b')], hitsAddend: 0 })).over).toBe(
      false,
    );
    clock.now = start + 60_000;
    const next = await should({ domain: 'features', descriptors: [d('path=/foo/a')], hitsAddend: 0 });
    expect(next.statuses[0]).toMatchObject({
      over: false,
      remaining: 1,
      resetMs: 60_000,
      limit: { limit: 2, unit: 'minute', name: '' },
    });
  });

  test('replaces: a matched rule drops the rule it names for this request', async () => {
    const { should } = setup();
    await should({ domain: 'features', descriptors: [d('user=u1')], hitsAddend: 0 });
    const alone = await should({ domain: 'features', descriptors: [d('user=u1')], hitsAddend: 0 });
    expect(alone.over).toBe(true);
    const withVip = await should({
      domain: 'features',
      descriptors: [d('user=u1'), d('vip=u1')],
      hitsAddend: 0,
    });
    expect(withVip.over).toBe(false);
    expect(withVip.statuses[0]).toEqual({ over: false, remaining: 0, retryAfterMs: 0 });
    expect(withVip.statuses[1]!.limit?.limit).toBe(100);
  });

  test('unlimited: OK with limit_remaining max uint32 and nothing counted', async () => {
    const { should } = setup();
    const result = await should({
      domain: 'features',
      descriptors: [d('tenant=internal')],
      hitsAddend: 1000,
    });
    expect(result).toEqual({
      over: false,
      statuses: [{ over: false, remaining: UNLIMITED_REMAINING, retryAfterMs: 0 }],
      headers: 'none',
      policies: [],
      violated: [],
    });
  });

  test('shadow mode: over the limit is reported with 0 remaining but never OVER_LIMIT', async () => {
    const { should } = setup();
    await should({ domain: 'features', descriptors: [d('dry_run=x')], hitsAddend: 0 });
    const second = await should({ domain: 'features', descriptors: [d('dry_run=x')], hitsAddend: 0 });
    expect(second.over).toBe(false);
    expect(second.statuses[0]).toMatchObject({ over: false, remaining: 0 });
  });

  test('limit 0 (Example 3 black list) is over for counted calls; hits 0 only checks', async () => {
    const { should } = setup();
    // A fresh counter checked with hits 0: 0 is not past 0.
    expect(
      (
        await should({
          domain: 'edge_proxy_per_ip',
          descriptors: [d('remote_address=50.0.0.5', { hits: 0 })],
          hitsAddend: 0,
        })
      ).over,
    ).toBe(false);
    expect(
      (
        await should({
          domain: 'edge_proxy_per_ip',
          descriptors: [d('remote_address=50.0.0.5')],
          hitsAddend: 0,
        })
      ).over,
    ).toBe(true);
    expect(
      (
        await should({
          domain: 'edge_proxy_per_ip',
          descriptors: [d('remote_address=50.0.0.5', { hits: 0 })],
          hitsAddend: 0,
        })
      ).over,
    ).toBe(true); // counting: envoy — the denied call above was counted, so 1 > 0
  });

  test('hits: request-level 0 means 1, per-descriptor 0 checks only, per-descriptor N overrides', async () => {
    const { should } = setup();
    const r1 = await should({
      domain: 'features',
      descriptors: [d('tenant=a', { hits: 0 }), d('tenant=b', { hits: 2 }), d('tenant=c')],
      hitsAddend: 0,
    });
    expect(r1.statuses.map((s) => s.remaining)).toEqual([3, 1, 2]);
    const r2 = await should({ domain: 'features', descriptors: [d('tenant=a')], hitsAddend: 4 });
    expect(r2.over).toBe(true);
  });

  test('an override in the request replaces the rules (fixed window of its unit); unknown domain: no limit', async () => {
    const { should } = setup();
    const override = { requestsPerUnit: 1, unit: 'hour' as const };
    const first = await should({
      domain: 'mongo_cps',
      descriptors: [d('database=users', { override })],
      hitsAddend: 0,
    });
    expect(first.statuses[0]).toMatchObject({ over: false, remaining: 0, limit: { limit: 1, unit: 'hour' } });
    expect(
      (await should({ domain: 'mongo_cps', descriptors: [d('database=users', { override })], hitsAddend: 0 }))
        .over,
    ).toBe(true);
    expect(
      (await should({ domain: 'nope', descriptors: [d('database=users', { override })], hitsAddend: 0 }))
        .statuses[0],
    ).toEqual({ over: false, remaining: 0, retryAfterMs: 0 });
  });

  test('an empty domain or no descriptors is a bad request', async () => {
    const { should } = setup();
    await expect(should({ domain: '', descriptors: [d('a=b')], hitsAddend: 0 })).rejects.toBeInstanceOf(
      InputError,
    );
    await expect(should({ domain: 'mongo_cps', descriptors: [], hitsAddend: 0 })).rejects.toThrow(
      'rate limit descriptor list must not be empty',
    );
  });
});

describe('counter identity (the ids live in Redis across upgrades and restarts)', () => {
  test('a plan counts under counterAccountId(domain, rule place|algorithm|window, counted values)', () => {
    const request = { domain: 'messaging', hitsAddend: 1, descriptors: [] as RlsDescriptor[] };
    const nested = entries('message_type=marketing,to_number=2061234567');
    request.descriptors = [{ entries: nested }, { entries: entries('to_number=2061234567') }];
    // Twice: the second plan of each rule is made from what its first one prepared.
    for (let round = 0; round < 2; round++) {
      const plans = planAll(matcher, domains['messaging'], request, false);
      const expected: Array<[place: string, counted: string[]]> = [
        ['message_type=marketing/to_number', nested.flatMap((e) => [e.key, e.value])],
        ['to_number', ['to_number', '2061234567']],
      ];
      for (const [i, [place, counted]] of expected.entries()) {
        const plan = plans[i];
        if (!plan || plan === 'unlimited') throw new Error(`descriptor ${i} matched no limited rule`);
        const { algorithm, windowMs } = plan.limit;
        expect(plan.counterId).toBe(
          counterAccountId(['messaging', `${place}|${algorithm}|${windowMs}`, ...counted]),
        );
      }
    }
  });

  test('counterAccountId is the SHA-256 of the parts, the same before and after its cache fills', () => {
    const formula = (parts: string[]) =>
      `rls_${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32)}`;
    const first = ['messaging', 'to_number|fixed_window|60000', 'to_number', '2061234567'];
    expect(counterAccountId(first)).toBe(formula(first));
    // Past the cache's bound (10,000 ids), so it is cleared once; each id is still the formula's.
    for (let i = 0; i < 10_050; i++) {
      const parts = ['messaging', 'to_number|fixed_window|60000', 'to_number', `user-${i}`];
      expect(counterAccountId(parts)).toBe(formula(parts));
    }
    expect(counterAccountId(first)).toBe(formula(first));
    expect(counterAccountId([...first.slice(0, 3), '2061234568'])).not.toBe(formula(first));
  });
});
