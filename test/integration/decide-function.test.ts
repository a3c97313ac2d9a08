// decide.lua as a Redis Function: the store loads it when Redis lacks it, decides by FCALL, and
// falls back to EVALSHA where Redis refuses Functions; both forms answer alike, and the memos a
// Function keeps between calls stay bounded.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import type { DecideInput, DecideResult } from '../../src/counters/counter-store.js';
import {
  DECIDE_SHA,
  decideArgs,
  decideFunction,
  decideKeys,
  RedisCounterStore,
} from '../../src/counters/redis-counter-store.js';
import { threeLimitsCall } from '../support/decide-inputs.js';
import { startRedisServer } from '../support/redis-server.js';
import { privateRedis } from '../support/private-redis.js';

// Private redis-servers: the tests flush functions and scripts and read INFO commandstats.
const own = privateRedis();

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const FUNCTION_NAME = decideFunction().name;

const call = threeLimitsCall;

/** An RLS-shaped call: counters only. */
const countersOnly = (accountId: string): DecideInput => ({
  ...call(accountId),
  endpoint: '',
  quota: null,
  credits: null,
});

async function commandCalls(client: Redis, command: string): Promise<number> {
  const stats = await client.info('commandstats');
  const line = stats.split('\r\n').find((l) => l.startsWith(`cmdstat_${command}:calls=`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

const libraries = async (client: Redis) =>
  ((await client.call('FUNCTION', 'LIST')) as unknown[][]).map((lib) => String(lib[1]));

test('the store loads decide.lua as a Function when Redis lacks it and decides by FCALL, not EVALSHA', async () => {
  await own.admin.call('FUNCTION', 'FLUSH');
  const store = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  try {
    const [fcalls, evalshas] = [
      await commandCalls(own.admin, 'fcall'),
      await commandCalls(own.admin, 'evalsha'),
    ];
    for (let i = 0; i < 3; i++) expect((await store.decide(call(`l-${randomUUID()}`))).allowed).toBe(true);
    expect(await libraries(own.admin)).toEqual([FUNCTION_NAME]);
    // The first FCALL found no function and was sent again once it was loaded.
    expect((await commandCalls(own.admin, 'fcall')) - fcalls).toBe(4);
    expect((await commandCalls(own.admin, 'evalsha')) - evalshas).toBe(0);
  } finally {
    await store.close();
  }
});

test('after FUNCTION FLUSH (as after a restart) a burst of batched decisions loads it once, each counted once', async () => {
  const store = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const account = `f-${randomUUID()}`;
  try {
    await store.decide(call(`f-${randomUUID()}`));
    await own.admin.call('FUNCTION', 'FLUSH');
    const loads = await commandCalls(own.admin, 'function|load');
    const results = await Promise.all(Array.from({ length: 40 }, () => store.decide(call(account))));
    expect((await commandCalls(own.admin, 'function|load')) - loads).toBe(1);
    expect(await libraries(own.admin)).toEqual([FUNCTION_NAME]);
    // The token bucket (9) binds first; the quota hash counts the 9 allowed, 2 units each, once.
    expect(results.filter((r) => r.allowed)).toHaveLength(9);
    expect(await own.admin.hget(`{a:${account}}:quota`, 'u')).toBe('18');
  } finally {
    await store.close();
  }
});

/** The same calls, one at a time, through a store on `url`; `fallbacks` gets its onScriptFallback answers. */
async function decideInTurn(
  url: string,
  inputs: DecideInput[],
  fallbacks: string[] = [],
): Promise<DecideResult[]> {
  const store = new RedisCounterStore({
    redis: new Redis(url),
    now: () => NOW,
    onScriptFallback: (answer) => fallbacks.push(answer),
  });
  try {
    const results = [];
    for (const input of inputs) results.push(await store.decide(input));
    return results;
  } finally {
    await store.close();
  }
}

test('a Redis without FCALL (before 7.0) gets the same answers by EVALSHA, and recovers from NOSCRIPT', async () => {
  const old = await startRedisServer(['--rename-command', 'FCALL', '']);
  const client = new Redis(old.url);
  try {
    const accounts = Array.from({ length: 3 }, () => `o-${randomUUID()}`);
    // 20 calls per account: the token bucket (9) binds.
    const inputs = Array.from({ length: 60 }, (_, i) =>
      (i % 2 === 0 ? call : countersOnly)(accounts[i % 3]!),
    );
    const fallbacks: string[] = [];
    const byScript = await decideInTurn(old.url, inputs.slice(0, 30), fallbacks);
    // Told once, with Redis' answer.
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/^ERR unknown command/);
    await client.script('FLUSH');
    byScript.push(...(await decideInTurn(old.url, inputs.slice(30))));
    expect(await client.script('EXISTS', DECIDE_SHA)).toEqual([1]);
    expect(await commandCalls(client, 'evalsha')).toBeGreaterThanOrEqual(60);
    // The same calls as a Function on the other server: the same answers.
    const none: string[] = [];
    expect(await decideInTurn(own.server.url, inputs, none)).toEqual(byScript);
    expect(none).toEqual([]);
    expect(byScript.filter((r) => r.allowed).length).toBeGreaterThan(0);
    expect(byScript.filter((r) => !r.allowed).length).toBeGreaterThan(0);
  } finally {
    client.disconnect();
    await old.stop();
  }
});

/** A store on `server` as a new ACL user with `rules`; `fallbacks` gets its onScriptFallback answers. */
async function storeAsUser(rules: string[]) {
  const user = `tg-acl-${randomUUID().slice(0, 8)}`;
  await own.admin.call('ACL', 'SETUSER', user, 'on', '>secret-pw', '&*', '+@all', ...rules);
  const url = new URL(own.server.url);
  url.username = user;
  url.password = 'secret-pw';
  const fallbacks: string[] = [];
  const store = new RedisCounterStore({
    redis: new Redis(url.toString()),
    now: () => NOW,
    onScriptFallback: (answer) => fallbacks.push(answer),
  });
  const close = async () => {
    await store.close();
    await own.admin.call('ACL', 'DELUSER', user);
  };
  return { store, fallbacks, close };
}

test.each([
  ['FUNCTION LOAD', '-function'],
  ['FCALL', '-fcall'],
])('a user the ACL denies %s decides by EVALSHA', async (_, rule) => {
  await own.admin.call('FUNCTION', 'FLUSH');
  const { store, fallbacks, close } = await storeAsUser(['~*', rule]);
  try {
    const evalshas = await commandCalls(own.admin, 'evalsha');
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await store.decide(call(`a-${randomUUID()}`)));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true]);
    expect(await libraries(own.admin)).toEqual([]);
    expect((await commandCalls(own.admin, 'evalsha')) - evalshas).toBeGreaterThanOrEqual(3);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/^NOPERM .* command/);
  } finally {
    await close();
  }
});

test('a key the ACL denies fails that decision, and the store keeps deciding by FCALL', async () => {
  const { store, fallbacks, close } = await storeAsUser(['~{a:ok-*']);
  try {
    expect((await store.decide(call(`ok-${randomUUID()}`))).allowed).toBe(true);
    await expect(store.decide(call(`no-${randomUUID()}`))).rejects.toThrow(/NOPERM/);
    const [fcalls, evalshas] = [
      await commandCalls(own.admin, 'fcall'),
      await commandCalls(own.admin, 'evalsha'),
    ];
    expect((await store.decide(call(`ok-${randomUUID()}`))).allowed).toBe(true);
    expect((await commandCalls(own.admin, 'fcall')) - fcalls).toBe(1);
    expect((await commandCalls(own.admin, 'evalsha')) - evalshas).toBe(0);
    expect(fallbacks).toEqual([]);
  } finally {
    await close();
  }
});

test('the memos a Function keeps between calls stay bounded, and the decisions after a reset stay right', async () => {
  const fn = decideFunction();
  await own.admin.call('FUNCTION', 'FLUSH');
  await own.admin.call('FUNCTION', 'LOAD', fn.library);
  const perSecond = {
    id: 't:s',
    name: 's',
    algorithm: 'fixed_window' as const,
    limit: 3,
    windowMs: 1000,
    shadow: false,
    hits: 1,
  };
  const input = (i: number): DecideInput => ({
    ...countersOnly(`m-${i % 50}`),
    endpoint: 'chat',
    limits: [perSecond],
  });
  const memory = async () =>
    Number(/used_memory_vm_functions:(\d+)/.exec(await own.admin.info('memory'))?.[1]);
  const before = await memory();
  // 40,000 calls, each in a window of its own: each window start is a new memo entry. Kept without
  // bound they held 4.9 MB here.
  for (let round = 0; round < 4; round++) {
    const pipeline = own.admin.pipeline();
    for (let i = round * 10_000; i < (round + 1) * 10_000; i++) {
      const keys = decideKeys(input(i));
      pipeline.call('FCALL', fn.name, keys.length, ...keys, ...decideArgs(input(i), NOW + i * 1000));
    }
    for (const [err, reply] of (await pipeline.exec()) ?? []) {
      expect(err).toBeNull();
      expect((reply as number[])[0]).toBe(1);
    }
  }
  expect((await memory()) - before).toBeLessThan(2_000_000);
  // One more window, four calls: three fit.
  const at = NOW + 50_000 * 1000;
  const replies = [];
  for (let k = 0; k < 4; k++) {
    const keys = decideKeys(input(0));
    replies.push(
      (
        (await own.admin.call(
          'FCALL',
          fn.name,
          keys.length,
          ...keys,
          ...decideArgs(input(0), at),
        )) as number[]
      )[0],
    );
  }
  expect(replies).toEqual([1, 1, 1, 0]);
});
