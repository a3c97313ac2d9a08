// Batched decisions on a real Redis: decisions that pile up while Redis is busy go as ONE decide.lua
// call in its batch form, and each one's answer is what it would have been alone.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import type { DecideInput } from '../../src/counters/counter-store.js';
import {
  DECIDE_SCRIPT,
  decideArgs,
  decideKeys,
  RedisCounterStore,
} from '../../src/counters/redis-counter-store.js';
import { StoreUnavailable } from '../../src/errors.js';
import { threeLimitsCall } from '../support/decide-inputs.js';
import { privateRedis } from '../support/private-redis.js';

// A private redis-server: the tests read INFO commandstats.
const own = privateRedis();

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const call = threeLimitsCall;

/** decide.lua calls so far (the store sends it as FCALL). */
async function scriptCalls(): Promise<number> {
  const stats = await own.admin.info('commandstats');
  return Number(/cmdstat_fcall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** A counters-only decision (the RLS path: no quota, credits or usage record): its reply has the short head. */
const countersOnly = (accountId: string): DecideInput => ({
  ...call(accountId),
  endpoint: '',
  quota: null,
  credits: null,
});

test('one batch mixing counters-only decisions with quota and credit ones: each answer as if alone', async () => {
  const batched = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const alone = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const accounts = Array.from({ length: 6 }, () => randomUUID());
  const input = (prefix: string, i: number) =>
    (i % 2 === 0 ? countersOnly : call)(`${prefix}-${accounts[i % accounts.length]}`);
  try {
    const before = await scriptCalls();
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => batched.decide(input('b', i))));
    expect((await scriptCalls()) - before).toBeLessThan(60);
    const sequential = [];
    for (let i = 0; i < 60; i++) sequential.push(await alone.decide(input('s', i)));
    expect(results).toEqual(sequential);
    expect(results.filter((r, i) => i % 2 === 0 && r.quota === null && r.credits === null)).toHaveLength(30);
    // The token bucket (9) binds the counters-only accounts; credits (12) and the bucket the others.
    expect(results.filter((r) => r.allowed)).toHaveLength(6 * 9);
  } finally {
    await Promise.all([batched.close(), alone.close()]);
  }
});

test('200 concurrent decisions over 10 accounts: fewer script calls than decisions, each answer as if alone', async () => {
  const batched = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const alone = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const accounts = Array.from({ length: 10 }, () => randomUUID());
  try {
    const before = await scriptCalls();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => batched.decide(call(`b-${accounts[i % 10]}`))),
    );
    const calls = (await scriptCalls()) - before;
    expect(calls).toBeLessThan(200);
    expect(calls).toBeGreaterThan(0);

    // The same 20 calls per account one at a time, on twin accounts: identical answers, in order.
    for (const account of accounts) {
      const sequential = [];
      for (let i = 0; i < 20; i++) sequential.push(await alone.decide(call(`s-${account}`)));
      const concurrent = results.filter((_, i) => accounts[i % 10] === account);
      expect(concurrent).toEqual(sequential);
      // Credits (12 at 1 per call) and the token bucket (9) bind first: 9 allowed, then denied.
      expect(concurrent.filter((r) => r.allowed)).toHaveLength(9);
    }
  } finally {
    await Promise.all([batched.close(), alone.close()]);
  }
});

test('a key of the wrong type fails that decision alone, not the others in its batch', async () => {
  const store = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const broken = `w-${randomUUID()}`;
  await own.admin.set(`{a:${broken}}:quota`, 'not a hash');
  try {
    const inputs = Array.from({ length: 30 }, (_, i) => call(i === 15 ? broken : `ok-${randomUUID()}`));
    const settled = await Promise.allSettled(inputs.map((input) => store.decide(input)));
    const failed = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [{ i, reason: s.reason as Error }] : [],
    );
    expect(failed.map((f) => f.i)).toEqual([15]);
    expect(failed[0]!.reason).toBeInstanceOf(StoreUnavailable);
    expect(failed[0]!.reason.message).toMatch(/WRONGTYPE/);
    expect(settled.filter((s) => s.status === 'fulfilled' && s.value.allowed)).toHaveLength(29);
  } finally {
    await store.close();
  }
});

test('a lone decision (the batch form with one) fails as a whole call, and a malformed one writes nothing', async () => {
  const store = new RedisCounterStore({ redis: new Redis(own.server.url), now: () => NOW });
  const broken = `w-${randomUUID()}`;
  await own.admin.set(`{a:${broken}}:quota`, 'not a hash');
  try {
    const failed = store.decide(call(broken));
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(failed).rejects.toThrow(/WRONGTYPE/);
    expect((await store.decide(call(`ok-${randomUUID()}`))).allowed).toBe(true);

    const input = call(`m-${randomUUID()}`);
    const keys = decideKeys(input);
    const args = decideArgs(input, NOW);
    const send = (argv: string[]) =>
      own.admin.eval(DECIDE_SCRIPT, keys.length, ...keys, '#batch', '1', '', ...argv);
    await expect(send(args.slice(0, -1))).rejects.toThrow(/malformed batch/);
    await expect(send([...args, 'extra'])).rejects.toThrow(/malformed batch/);
    expect(await own.admin.exists(...keys)).toBe(0);
    const reply = (await send(args)) as number[];
    expect(reply[0]).toBe(1);
  } finally {
    await store.close();
  }
});
