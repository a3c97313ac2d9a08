// Domains from envoyproxy/ratelimit's config decide, answer and report as that service does (its
// base_limiter.go, fixed_cache_impl.go and service.go, restated case by case with our own fixtures),
// on the in-process counters and on real Redis alike; `counting: tollgate` keeps all-or-nothing.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { MemoryWindowCounter } from '../../src/counters/memory-window-counter.js';
import { RedisWindowCounter } from '../../src/counters/redis-window-counter.js';
import type { WindowCounter } from '../../src/counters/window-counter.js';
import { InputError } from '../../src/errors.js';
import { RateLimitResponse_Code as Code } from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import type { RatelimitDomains } from '../../src/policy/ratelimit-rules.js';
import { importEnvoyRatelimit } from '../../src/rls/import-envoy-ratelimit.js';
import {
  createShouldRateLimit,
  DEFAULT_RLS_SETTINGS,
  type RlsDescriptor,
  type RlsSettings,
} from '../../src/rls/should-rate-limit.js';
import { responseFromResult } from '../../src/transports/grpc/rls.js';

const RUN = randomBytes(4).toString('hex');
const file = (name: string, domainSuffix = `_${RUN}`) => ({
  name,
  text: readFileSync(
    new URL(`../fixtures/envoy-ratelimit/conformance/${name}`, import.meta.url),
    'utf8',
  ).replace(/^domain: (\w+)$/m, `domain: $1${domainSuffix}`),
});
const SHOP = `shop_${RUN}`;
const TOLLGATE = `shop_tollgate_${RUN}`;
const domains: RatelimitDomains = importEnvoyRatelimit([
  file('shop.yaml'),
  file('tollgate-counting.yaml'),
]).domains;
/** 2026-01-01 00:00:17.250 UTC: 43 s left in the minute, 3583 s in the hour. */
const NOW = Date.UTC(2026, 0, 1, 0, 0, 17, 250);
const REDIS_URL = 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, retryStrategy: () => null });
const usedKeys = new Set<string>();

afterAll(async () => {
  if (usedKeys.size > 0 && redis.status === 'ready') await redis.del(...usedKeys);
  redis.disconnect();
});

async function redisWindows(): Promise<WindowCounter> {
  if (redis.status !== 'ready')
    await redis.connect().catch((err) => {
      throw new Error(`this test needs Redis at ${REDIS_URL}, which is not reachable: ${String(err)}`);
    });
  const inner = new RedisWindowCounter(redis);
  return {
    add: (items) => {
      for (const i of items) usedKeys.add(i.key);
      return inner.add(items);
    },
    close: async () => {},
  };
}

const d = (entries: string, hits?: number): RlsDescriptor => ({
  entries: entries.split(',').map((kv) => {
    const [key, value] = kv.split('=') as [string, string];
    return { key, value };
  }),
  ...(hits === undefined ? {} : { hits }),
});

describe.each([
  ['memory', async () => new MemoryWindowCounter(() => NOW) as WindowCounter],
  ['redis', redisWindows],
])('counting: envoy on %s counters', (_name, windows) => {
  const setup = async (settings: Partial<RlsSettings> = {}) => {
    const should = createShouldRateLimit({
      counters: new MemoryCounterStore({ now: () => NOW }),
      windows: await windows(),
      domains: () => domains,
      settings: { ...DEFAULT_RLS_SETTINGS, ...settings },
      now: () => NOW,
    });
    const v = randomBytes(4).toString('hex'); // a fresh counter per test
    return {
      should,
      v,
      ask: (domain: string, ...ds: RlsDescriptor[]) => should({ domain, descriptors: ds, hitsAddend: 0 }),
    };
  };

  test('hits 2 on a 1/hour rule is over and counted, so hits 1 after it is over too', async () => {
    const { ask, v } = await setup();
    const first = await ask(SHOP, d(`hourly=${v}`, 2));
    expect(first.over).toBe(true);
    expect(first.statuses[0]).toMatchObject({ over: true, remaining: 0 });
    expect((await ask(SHOP, d(`hourly=${v}`, 1))).over).toBe(true);
  });

  test('hits_addend 0 reads without counting: OK with 0 left at 30 of 30, OVER_LIMIT at 31 of 30', async () => {
    const { ask, v } = await setup();
    expect((await ask(SHOP, d(`thirty=${v}`, 30))).statuses[0]).toMatchObject({ over: false, remaining: 0 });
    for (let i = 0; i < 3; i++)
      expect((await ask(SHOP, d(`thirty=${v}`, 0))).statuses[0]).toMatchObject({ over: false, remaining: 0 });
    expect((await ask(SHOP, d(`thirty=${v}`, 1))).over).toBe(true);
    expect((await ask(SHOP, d(`thirty=${v}`, 0))).over).toBe(true); // 31 > 30
  });

  test('within the limit: remaining = limit - count; duration_until_reset in whole seconds on the wire', async () => {
    const { ask, v } = await setup();
    const result = await ask(SHOP, d(`thirty=${v}`, 4));
    expect(result.statuses[0]).toMatchObject({ over: false, remaining: 26, resetMs: 43_000 });
    const wire = responseFromResult(result).statuses[0]!;
    expect(wire).toMatchObject({
      code: Code.OK,
      limitRemaining: 26,
      durationUntilReset: { seconds: 43, nanos: 0 },
    });
    expect(responseFromResult(await ask(SHOP, d(`hourly=${v}`))).statuses[0]!.durationUntilReset).toEqual({
      seconds: 3583,
      nanos: 0,
    });
  });

  test('per-rule stats: over, near (NEAR_LIMIT_RATIO 0.8) and within split the hits as base_limiter.go does', async () => {
    const { ask, v } = await setup();
    const stats = [];
    for (const hits of [5, 4, 3, 2]) stats.push((await ask(SHOP, d(`ten=${v}`, hits))).statuses[0]!.stats!);
    // 5 → 5 within; 9 (from 5) → 4 within, 1 near; 12 (from 9) → 2 over, 1 near; 14 (from 12) → 2 over.
    expect(stats.map((s) => [s.totalHits, s.withinLimit, s.nearLimit, s.overLimit])).toEqual([
      [5, 5, 0, 0],
      [4, 4, 1, 0],
      [3, 0, 1, 2],
      [2, 0, 0, 2],
    ]);
    expect(stats[0]).toMatchObject({ domain: SHOP, keys: ['ten'] }); // the value never becomes a label
  });

  test('shadow_mode: OK past the limit, counted as shadow_mode and over_limit', async () => {
    const { ask, v } = await setup();
    await ask(SHOP, d(`dry=${v}`, 2));
    const third = await ask(SHOP, d(`dry=${v}`, 1));
    expect(third.over).toBe(false);
    expect(responseFromResult(third).statuses[0]!.code).toBe(Code.OK);
    expect(third.statuses[0]!.stats).toMatchObject({ overLimit: 1, shadowMode: 1 });
  });

  test('quota_mode: over only when every quota descriptor is over; the over one still reports OVER_LIMIT', async () => {
    const { ask, v } = await setup();
    await ask(SHOP, d(`quota_a=${v}`, 1));
    const one = await ask(SHOP, d(`quota_a=${v}`, 1), d(`quota_b=${v}`, 1));
    expect(one.over).toBe(false);
    expect(responseFromResult(one).statuses.map((s) => s.code)).toEqual([Code.OVER_LIMIT, Code.OK]);
    expect((await ask(SHOP, d(`quota_a=${v}`, 1), d(`quota_b=${v}`, 1))).over).toBe(false); // b: 2 of 2
    const both = await ask(SHOP, d(`quota_a=${v}`, 1), d(`quota_b=${v}`, 1)); // b: 3 of 2
    expect(both.over).toBe(true);
    // A rate descriptor over the limit is over whatever the quota descriptors say.
    await ask(SHOP, d(`hourly=${v}`, 1));
    expect((await ask(SHOP, d(`hourly=${v}`, 1), d(`quota_b=x${v}`, 1))).over).toBe(true);
  });

  test('QUOTA_MODE makes every descriptor a quota descriptor; SHADOW_MODE answers OK and says so', async () => {
    const quota = await setup({ quotaMode: true });
    await quota.ask(SHOP, d(`hourly=${quota.v}`, 1));
    expect((await quota.ask(SHOP, d(`hourly=${quota.v}`, 1), d(`thirty=${quota.v}`, 1))).over).toBe(false);
    // A descriptor no rule limits counts as a quota descriptor that passed.
    expect((await quota.ask(SHOP, d(`hourly=${quota.v}`, 1), d(`nothing=${quota.v}`, 1))).over).toBe(false);
    expect((await quota.ask(SHOP, d(`hourly=${quota.v}`, 1))).over).toBe(true);
    const shadow = await setup({ shadowMode: true });
    const result = await shadow.ask(SHOP, d(`hourly=${shadow.v}`, 2));
    expect(result).toMatchObject({ over: false, globalShadow: true });
    expect(responseFromResult(result).overallCode).toBe(Code.OK);
  });

  test('values are byte strings: Zürich and Zurich are two counters, and the stats keep the rule key', async () => {
    const { ask, v } = await setup();
    const z = await ask(SHOP, d(`city=Zürich${v}`, 5));
    expect(z.statuses[0]).toMatchObject({ over: false, remaining: 0, stats: { keys: ['city'] } });
    expect((await ask(SHOP, d(`city=Zurich${v}`, 1))).statuses[0]).toMatchObject({ remaining: 4 });
    expect((await ask(SHOP, d(`city=Zürich${v}`, 1))).over).toBe(true);
  });

  test('nested rules report key1 and key2 as the statsd mapping splits them', async () => {
    const { ask, v } = await setup();
    expect((await ask(SHOP, d(`parent=p,child=${v}`))).statuses[0]!.stats).toMatchObject({
      keys: ['parent_p', 'child'],
    });
  });

  test('counting: tollgate is all-or-nothing: a denied call is not counted', async () => {
    const { ask, v } = await setup();
    expect((await ask(TOLLGATE, d(`hourly=${v}`, 2))).over).toBe(true);
    expect((await ask(TOLLGATE, d(`hourly=${v}`, 1))).over).toBe(false);
  });
});

describe('answers: response headers per domain or global', () => {
  const answer = async (settings: Partial<RlsSettings>, domain = SHOP) => {
    const should = createShouldRateLimit({
      counters: new MemoryCounterStore({ now: () => NOW }),
      windows: new MemoryWindowCounter(() => NOW),
      domains: () => domains,
      settings: { ...DEFAULT_RLS_SETTINGS, ...settings },
      now: () => NOW,
    });
    await should({ domain, descriptors: [d('hourly=h')], hitsAddend: 0 });
    return responseFromResult(
      await should({ domain, descriptors: [d('thirty=t', 3), d('hourly=h')], hitsAddend: 0 }),
    );
  };
  const headers = (r: Awaited<ReturnType<typeof answer>>) =>
    r.responseHeadersToAdd.map((h) => [h.key, h.value]);

  test('none by default for its domains: no headers and no body, even over the limit', async () => {
    const r = await answer({});
    expect(r.overallCode).toBe(Code.OVER_LIMIT);
    expect(headers(r)).toEqual([]);
    expect(r.rawBody.length).toBe(0);
  });

  test('erl with LIMIT_RESPONSE_HEADERS_ENABLED: the over descriptor, names from LIMIT_*_HEADER', async () => {
    const r = await answer({
      erlHeadersEnabled: true,
      erlHeaderNames: { limit: 'X-RL-Limit', remaining: 'X-RL-Remaining', reset: 'X-RL-Reset' },
    });
    expect(headers(r)).toEqual([
      ['X-RL-Limit', '1'],
      ['X-RL-Remaining', '0'],
      ['X-RL-Reset', '3583'],
    ]);
    expect(r.rawBody.length).toBe(0);
  });

  test('ietf (RLS_RESPONSE_HEADERS or per domain): RateLimit headers, retry-after and the problem+json body', async () => {
    const r = await answer({ responseHeaders: 'ietf' });
    const names = headers(r).map(([k]) => k);
    expect(names).toEqual(
      expect.arrayContaining(['ratelimit-policy', 'ratelimit', 'retry-after', 'content-type']),
    );
    expect(JSON.parse(Buffer.from(r.rawBody).toString('utf8')).code).toBe('rate_limit_exceeded');
  });

  test('a domain without counting: envoy keeps answering ietf by default', async () => {
    const r = await answer({}, TOLLGATE);
    expect(headers(r).map(([k]) => k)).toContain('ratelimit-policy');
  });
});

describe('config shapes', () => {
  const rejected = (files: Array<{ name: string; text: string }>, mergeDomains = false) => {
    try {
      importEnvoyRatelimit(files, { mergeDomains });
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      return (err as InputError).message;
    }
    throw new Error('expected a rejection');
  };

  test('MERGE_DOMAIN_CONFIG merges files of one domain; off, the second file is a duplicate domain', () => {
    const merged = importEnvoyRatelimit([file('shop.yaml'), file('shop-more.yaml')], { mergeDomains: true });
    expect(merged.domains[SHOP]!.descriptors.map((r) => r.key)).toContain('extra');
    expect(rejected([file('shop.yaml'), file('shop-more.yaml')])).toBe(
      `shop-more.yaml:1:1: domain: duplicate domain '${SHOP}' in config file`,
    );
    expect(rejected([file('shop.yaml'), file('shop-clash.yaml')], true)).toBe(
      `shop-clash.yaml:4:5: descriptors[0]: duplicate descriptor composite key '${SHOP}.hourly'`,
    );
  });

  test('quota_mode is taken over; Unicode is accepted; control characters and > 256 bytes are not', () => {
    expect(domains[SHOP]!.descriptors.find((r) => r.key === 'quota_a')!.quotaMode).toBe(true);
    const one = (value: string) => ({
      name: 'u.yaml',
      text: `domain: u\ndescriptors:\n  - key: city\n    value: "${value}"\n    rate_limit: { unit: day, requests_per_unit: 1 }\n`,
    });
    expect(importEnvoyRatelimit([one('Zürich')]).domains.u!.descriptors[0]!.value).toBe('Zürich');
    expect(rejected([one('a\\tb')])).toBe(
      'u.yaml:3:5: descriptors[0].value: Tollgate needs 1 to 256 bytes of UTF-8, no control characters here',
    );
    expect(rejected([one('ü'.repeat(129))])).toContain('Tollgate needs 1 to 256 bytes of UTF-8');
  });

  test("Tollgate's per-domain keys are checked", () => {
    expect(rejected([{ name: 'c.yaml', text: 'domain: c\ncounting: sometimes\n' }])).toBe(
      'c.yaml:1:1: counting: expected one of envoy, tollgate',
    );
    expect(
      importEnvoyRatelimit([{ name: 'c.yaml', text: 'domain: c\nresponse_headers: erl\n' }]).domains.c,
    ).toEqual({
      descriptors: [],
      counting: 'envoy',
      responseHeaders: 'erl',
    });
  });
});
