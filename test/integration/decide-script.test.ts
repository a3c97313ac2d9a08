// decide.lua as an artifact: it compiles on the server and touches only KEYS of one slot (its life as
// a Redis Function: decide-function.test.ts).

import { randomUUID } from 'node:crypto';
import { type Command, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DecideInput } from '../../src/counters/counter-store.js';
import type { LimitCheck } from '../../src/policy/limit-rule.js';
import {
  DECIDE_SCRIPT,
  DECIDE_SHA,
  decideArgs,
  decideKeys,
  RedisCounterStore,
} from '../../src/counters/redis-counter-store.js';
import { startRedisServer } from '../support/redis-server.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
let redis: Redis;
const accountId = `ct-{odd}-${randomUUID()}`;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  await redis.connect().catch((err: unknown) => {
    throw new Error(`these tests need Redis at ${REDIS_URL}, which is not reachable: ${String(err)}`);
  });
});
afterAll(async () => {
  const keys = await redis.keys(`{a:${accountId}}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** Redis Cluster's key → slot: CRC16/XMODEM of the hash tag (first non-empty {...}), mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

const input = (): DecideInput => ({
  accountId,
  anchorDay: 31,
  units: 2,
  endpoint: 'chat',
  quota: { limit: 100, overage: false },
  credits: { cost: 1, seed: 10 },
  limits: [
    {
      id: 't:per-minute',
      name: 'per-minute',
      algorithm: 'sliding_window',
      limit: 10,
      windowMs: 60_000,
      shadow: false,
      hits: 1,
    },
    {
      id: 'e:chat:burst',
      name: 'burst',
      algorithm: 'token_bucket',
      limit: 5,
      windowMs: 1000,
      burst: 2,
      shadow: true,
      hits: 1,
    },
    {
      id: 't:per-hour',
      name: 'per-hour',
      algorithm: 'fixed_window',
      limit: 100,
      windowMs: 3_600_000,
      shadow: false,
      hits: 1,
    },
  ],
});

test('SCRIPT LOAD compiles decide.lua and yields the SHA the store calls', async () => {
  expect(await redis.script('LOAD', DECIDE_SCRIPT)).toBe(DECIDE_SHA);
});

test('every key a decision writes carries a TTL (garbage collection), also when only later calls of a window write', async () => {
  const own = await startRedisServer();
  const client = new Redis(own.url);
  const store = new RedisCounterStore({ redis: client });
  try {
    const call = { ...input(), credits: null };
    for (let i = 0; i < 3; i++) expect((await store.decide(call)).allowed).toBe(true);
    const keys = await client.keys('*');
    const usage = `{a:${accountId}}:usage`; // drained by the usage flusher, which owns its lifetime
    expect(keys.length).toBeGreaterThan(1);
    for (const key of keys.filter((k) => k !== usage)) expect(await client.pttl(key), key).toBeGreaterThan(0);
  } finally {
    await store.close();
    await own.stop();
  }
});

test('one hash holds every limit and the quota: it lives as long as the longest of them needs', async () => {
  const own = await startRedisServer();
  const client = new Redis(own.url);
  const now = Date.UTC(2026, 5, 10, 12, 0, 30, 500);
  const store = new RedisCounterStore({ redis: client, now: () => now });
  const limit = (id: string, algorithm: LimitCheck['algorithm'], windowMs: number): LimitCheck => ({
    id,
    name: id,
    algorithm,
    limit: 5,
    windowMs,
    shadow: false,
    hits: 1,
  });
  const counters = (id: string, endpoint: string, limits: LimitCheck[]): DecideInput => ({
    accountId: id,
    anchorDay: 1,
    units: 1,
    endpoint,
    quota: null,
    credits: null,
    limits,
  });
  try {
    // Counters only (the RLS path): a 1 s window and a 1 h sliding window, whose count is read
    // through the next hour: kept to the next window's end, plus a minute's slack.
    const hour = 3_600_000;
    const hourStart = Math.floor(now / hour) * hour;
    await store.decide(
      counters('rls', '', [limit('l:s', 'fixed_window', 1000), limit('l:h', 'sliding_window', hour)]),
    );
    const rls = '{a:rls}:quota';
    expect(await client.hgetall(rls)).toMatchObject({
      'l:l:s:c': '1',
      'l:l:h:c': '1',
      x: String(hourStart + 2 * hour + 60_000),
    });
    expect(await client.pttl(rls)).toBeGreaterThan(hourStart + 2 * hour - now);
    expect(await client.pttl(rls)).toBeLessThanOrEqual(hourStart + 2 * hour + 60_000 - now);
    // A later call of the short window alone never shortens it.
    await store.decide(counters('rls', '', [limit('l:s', 'fixed_window', 1000)]));
    expect(await client.pttl(rls)).toBeGreaterThan(hourStart + 2 * hour - now);
    // Usage recorded without a quota limit: no quota count, so only the limits' state sets it.
    await store.decide(counters('usage', 'chat', [limit('t:s', 'token_bucket', 1000)]));
    expect(await client.hget('{a:usage}:quota', 'u')).toBeNull();
    expect(await client.pttl('{a:usage}:quota')).toBeLessThanOrEqual(200 + 1000 + 60_000);
    // With a quota limit, its count is kept to the quota period's end plus 31 days.
    const quota = { limit: 100, overage: false };
    await store.decide({ ...counters('acct', 'chat', [limit('t:s', 'token_bucket', 1000)]), quota });
    const periodEnd = Date.UTC(2026, 6, 1);
    expect(await client.pttl('{a:acct}:quota')).toBeGreaterThan(periodEnd + 31 * 86_400_000 - now);
    expect(await client.hget('{a:acct}:quota', 'l:t:s:t')).toBe(String(now + 200));
    expect(await client.hget('{a:acct}:quota', 'u')).toBe('1');
  } finally {
    await store.close();
    await own.stop();
  }
});

test('every key the store sends shares the {a:<account>} hash tag and one cluster slot', async () => {
  expect([keySlot('foo'), keySlot('somekey'), keySlot('{user1000}.following')]).toEqual([
    12182,
    11058,
    keySlot('user1000'),
  ]);
  const sent: unknown[][] = [];
  const client = new Redis(REDIS_URL);
  // Every command reaches sendCommand; the decide's FCALL is pre-encoded, so it is read off the
  // bytes ioredis writes (function name, numkeys, keys, args).
  const spy = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === 'sendCommand') {
        return (command: Command, ...rest: unknown[]) => {
          if (['fcall', 'evalsha', 'eval'].includes(command.name))
            sent.push(bulkStrings(command.toWritable({})).slice(1));
          return (value as (...a: unknown[]) => unknown).apply(target, [command, ...rest]);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const store = new RedisCounterStore({ redis: spy });
  try {
    await store.decide(input());
    expect(sent.length).toBeGreaterThan(0);
    for (const [, numkeys, ...rest] of sent) {
      const keys = rest.slice(0, Number(numkeys)) as string[];
      expect(keys).toHaveLength(3); // quota (with every limit's state), credits, usage
      for (const key of keys) expect(key.startsWith(`{a:${accountId}}:`), key).toBe(true);
      expect(new Set(keys.map(keySlot)).size).toBe(1);
    }
  } finally {
    await store.close();
  }
});

test('keys and args that do not match the spec are refused whole, and nothing is written', async () => {
  await redis.script('LOAD', DECIDE_SCRIPT);
  const id = `ct-${randomUUID()}`;
  const one: DecideInput = { ...input(), accountId: id };
  const keys = decideKeys(one);
  const args = decideArgs(one, undefined);
  // This spec (quota, credits, endpoint) takes the quota, credits and usage keys; the credit seed and
  // both quota seed args.
  expect([keys.length, args.length]).toEqual([3, 5]);
  const single = (k: string[], a: string[]) => redis.evalsha(DECIDE_SHA, k.length, ...k, ...a);
  await expect(single(keys.slice(0, 2), args)).rejects.toThrow(/do not match the spec/);
  await expect(single(keys, args.slice(0, 4))).rejects.toThrow(/do not match the spec/);
  const batch = (k: string[], a: string[]) =>
    redis.evalsha(DECIDE_SHA, k.length, ...k, '#batch', '2', '', ...a);
  // Two decisions, the second one short of an arg: the batch is refused before either runs.
  await expect(batch([...keys, ...keys], [...args, ...args.slice(0, 4)])).rejects.toThrow(/malformed batch/);
  await expect(batch([...keys, ...keys], [...args, ...args, ''])).rejects.toThrow(/malformed batch/);
  expect(await redis.exists(...keys)).toBe(0);
  // The same calls, well formed, decide.
  const replies = (await batch([...keys, ...keys], [...args, ...args])) as number[];
  expect(replies.slice(0, 1)).toEqual([1]);
  expect(await redis.exists(...keys)).toBe(3);
  await redis.del(...keys);
});

test('the script names no key of its own: every redis.call on a key uses KEYS or a key taken from KEYS', () => {
  const calls = [...DECIDE_SCRIPT.matchAll(/redis\.call\('(\w+)'(?:,\s*([^,)]+))?/g)];
  expect(calls.length).toBeGreaterThan(5);
  for (const [text, command, key] of calls) {
    if (command === 'TIME') continue;
    expect(key, text).toMatch(/^(quota_key|credits_key|usage_key|record_key)$/);
  }
  // Those names are KEYS of the decision (offset ko: 0 alone, or its place in a batch; the spec says
  // which optional keys the decision has).
  expect(DECIDE_SCRIPT).toMatch(/local quota_key = Keys\[ko \+ 1\]\n/);
  expect(DECIDE_SCRIPT).toMatch(/local credits_key = sp\.cost and Keys\[ko \+ sp\.credits_at\]\n/);
  expect(DECIDE_SCRIPT).toMatch(/local usage_key = sp\.endpoint ~= '' and Keys\[ko \+ sp\.usage_at\]\n/);
  expect(DECIDE_SCRIPT).toMatch(/local record_key = Keys\[ko \+ sp\.record_at\]\n/);
  // Keys is the call's KEYS (handed to a Function, a global of a script), assigned nowhere else.
  expect(DECIDE_SCRIPT.match(/\bKeys\b[^=\n]*[^=~]=(?!=)/g)).toEqual(['Keys, Argv, server_now =']);
  // Every other assignment of these names would escape the checks above.
  for (const name of ['quota_key', 'credits_key', 'usage_key', 'record_key'])
    expect(DECIDE_SCRIPT.match(new RegExp(`\\b${name} =`, 'g')), name).toHaveLength(1);
});

test('a free call (cost 0) passes on a negative live balance, a paid one is denied and leaves it', async () => {
  const id = `ct-${randomUUID()}`;
  const store = new RedisCounterStore({ redis: new Redis(REDIS_URL) });
  try {
    await redis.set(`{a:${id}}:credits`, '-5'); // as an external correction could leave it
    const call = (cost: number): DecideInput => ({
      ...input(),
      accountId: id,
      limits: [],
      credits: { cost, seed: 10 },
    });
    expect(await store.decide(call(0))).toMatchObject({
      allowed: true,
      credits: { state: 'ok', balance: -5 },
    });
    expect(await store.decide(call(1))).toMatchObject({
      allowed: false,
      credits: { state: 'denied', balance: -5 },
    });
    expect(await redis.get(`{a:${id}}:credits`)).toBe('-5');
  } finally {
    await store.close();
    const keys = await redis.keys(`{a:${id}}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
});

/** The bulk strings of one RESP2 command as written on the wire. */
function bulkStrings(wire: string | Buffer): string[] {
  const buf = Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'utf8');
  const line = (at: number) => {
    const end = buf.indexOf('\r\n', at);
    return { text: buf.toString('latin1', at + 1, end), next: end + 2 };
  };
  const { text } = line(0);
  let { next } = line(0);
  const strings: string[] = [];
  for (let i = 0; i < Number(text); i++) {
    const head = line(next);
    const length = Number(head.text);
    strings.push(buf.toString('utf8', head.next, head.next + length));
    next = head.next + length + 2;
  }
  return strings;
}
