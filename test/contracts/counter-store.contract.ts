// The CounterStore contract: the same bodies run on the Redis (decide.lua) and in-process stores, on an injected clock.

import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { billingPeriod } from '../../src/billing/billing-period.js';
import type { CounterStore, DecideInput, DecideResult } from '../../src/counters/counter-store.js';
import type { LimitCheck } from '../../src/policy/limit-rule.js';
import { StoreUnavailable } from '../../src/errors.js';
import { chatCall } from '../support/decide-inputs.js';

/** A store under test can also show an account's unflushed usage record. */
export type ContractStore = CounterStore & { readUsage(accountId: string): Promise<Record<string, number>> };
export interface Clock {
  now: () => number;
}

const SEC = 1000;
/** 2024-01-10T12:00:00Z: aligned to every window used below. */
const T0 = Date.UTC(2024, 0, 10, 12);

type LimitSpec = Partial<LimitCheck> & Pick<LimitCheck, 'name' | 'algorithm' | 'limit' | 'windowMs'>;
const limit = (spec: LimitSpec): LimitCheck => ({ id: `x:${spec.name}`, shadow: false, hits: 1, ...spec });

export function describeCounterStore(
  name: string,
  make: (clock: Clock) => Promise<ContractStore>,
  cleanup?: (accountIds: string[]) => Promise<void>,
): void {
  describe(`CounterStore contract: ${name}`, () => {
    const accounts: string[] = [];
    const open: CounterStore[] = [];
    let t = T0;
    const clock: Clock = { now: () => t };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    afterAll(async () => {
      await cleanup?.(accounts);
    });

    /** A fresh store on the shared clock (reset to `start`), a fresh account, and a call builder. */
    async function setup(start = T0) {
      t = start;
      const store = await make(clock);
      open.push(store);
      const accountId = `ct-${randomUUID()}`;
      accounts.push(accountId);
      const input = (over: Partial<DecideInput> = {}): DecideInput => chatCall(accountId, over);
      const decide = (over: Partial<DecideInput> = {}) => store.decide(input(over));
      return { store, accountId, decide, input, at: (ms: number) => void (t = ms) };
    }
    const remaining = (r: DecideResult) => r.limits.map((l) => l.remaining);

    test('fixed_window: limit per epoch-aligned window, denied until exactly the boundary', async () => {
      const { decide, at } = await setup();
      const limits = [limit({ name: 'fw', algorithm: 'fixed_window', limit: 3, windowMs: 10 * SEC })];
      for (const left of [2, 1, 0]) {
        const r = await decide({ limits });
        expect(r.allowed).toBe(true);
        expect(r.limits[0]).toEqual({
          name: 'fw',
          state: 'ok',
          remaining: left,
          resetMs: 10 * SEC,
          retryAfterMs: 0,
        });
      }
      at(T0 + 4 * SEC);
      expect((await decide({ limits })).limits[0]).toEqual({
        name: 'fw',
        state: 'denied',
        remaining: 0,
        resetMs: 6 * SEC,
        retryAfterMs: 6 * SEC,
      });
      at(T0 + 10 * SEC - 1);
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'denied',
        resetMs: 1,
        retryAfterMs: 1,
      });
      at(T0 + 10 * SEC);
      const r = await decide({ limits });
      expect([r.allowed, r.nowMs]).toEqual([true, T0 + 10 * SEC]);
      expect(r.limits[0]).toMatchObject({ state: 'ok', remaining: 2, resetMs: 10 * SEC });
    });

    test('sliding_window: the previous window weighs (W - elapsed)/W; remaining = floor(limit - estimate)', async () => {
      const { decide, at } = await setup();
      const limits = [limit({ name: 'sw', algorithm: 'sliding_window', limit: 10, windowMs: 1000 })];
      expect(remaining(await decide({ limits: [{ ...limits[0]!, hits: 6 }] }))).toEqual([4]);
      at(T0 + 1250); // estimate 6 * 0.75 = 4.5, + 1 = 5.5
      expect((await decide({ limits })).limits[0]).toMatchObject({ state: 'ok', remaining: 4, resetMs: 750 });
      at(T0 + 2100); // previous window holds 1: estimate 0.9, + 1 = 1.9
      expect(remaining(await decide({ limits }))).toEqual([8]);
      at(T0 + 4000); // two windows later everything has aged out
      expect(remaining(await decide({ limits }))).toEqual([9]);
    });

    test('sliding_window: edge and retryAfterMs is when the estimate has dropped enough', async () => {
      const { decide, at } = await setup();
      const limits = [limit({ name: 'sw', algorithm: 'sliding_window', limit: 2, windowMs: 1000 })];
      expect((await decide({ limits })).allowed).toBe(true);
      expect((await decide({ limits })).allowed).toBe(true);
      at(T0 + 999); // still in the first window: count 2 → wait for the next window, where 2*(1000-e)/1000 + 1 <= 2 at e = 500
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'denied',
        remaining: 0,
        resetMs: 1,
        retryAfterMs: 501,
      });
      at(T0 + 1000); // estimate 2 (full weight)
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'denied',
        resetMs: 1000,
        retryAfterMs: 500,
      });
      at(T0 + 1499); // estimate 1.002
      expect((await decide({ limits })).limits[0]).toMatchObject({ state: 'denied', retryAfterMs: 1 });
      at(T0 + 1500); // estimate 1.0, + 1 = 2 <= 2
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'ok',
        remaining: 0,
        retryAfterMs: 0,
      });
    });

    test('token_bucket: burst capacity, refill one token per windowMs/limit, retry when the call fits', async () => {
      const { decide, at } = await setup();
      const limits = [limit({ name: 'tb', algorithm: 'token_bucket', limit: 10, windowMs: 1000, burst: 3 })];
      expect((await decide({ limits })).limits[0]).toEqual({
        name: 'tb',
        state: 'ok',
        remaining: 2,
        resetMs: 100,
        retryAfterMs: 0,
      });
      expect(remaining(await decide({ limits }))).toEqual([1]);
      expect(remaining(await decide({ limits }))).toEqual([0]);
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'denied',
        remaining: 0,
        retryAfterMs: 100,
      });
      at(T0 + 99);
      expect((await decide({ limits })).limits[0]).toMatchObject({
        state: 'denied',
        retryAfterMs: 1,
        resetMs: 1,
      });
      at(T0 + 100);
      expect((await decide({ limits })).limits[0]).toMatchObject({ state: 'ok', remaining: 0, resetMs: 100 });
      at(T0 + 5000); // refilled, but never past the burst capacity
      expect((await decide({ limits: [{ ...limits[0]!, hits: 0 }] })).limits[0]).toMatchObject({
        state: 'ok',
        remaining: 3,
        resetMs: 0,
      });
      expect((await decide({ limits: [{ ...limits[0]!, hits: 4 }] })).limits[0]).toMatchObject({
        state: 'denied',
        remaining: 3,
      });
    });

    test('token_bucket: a fractional emission interval (1000/3 ms) is exact at the edge; burst > limit', async () => {
      const { decide, at } = await setup();
      const limits = [
        limit({ name: 'third', algorithm: 'token_bucket', limit: 3, windowMs: 1000 }),
        limit({
          name: 'big',
          algorithm: 'token_bucket',
          limit: 1,
          windowMs: 60 * SEC,
          burst: 5,
          shadow: true,
        }),
      ];
      for (let i = 0; i < 3; i++) expect((await decide({ limits })).allowed).toBe(true);
      const denied = await decide({ limits });
      expect(denied.limits[0]).toMatchObject({ state: 'denied', retryAfterMs: 334 });
      at(T0 + 333);
      expect((await decide({ limits })).limits[0]!.state).toBe('denied');
      at(T0 + 334);
      const r = await decide({ limits });
      expect(r.limits.map((l) => [l.state, l.remaining])).toEqual([
        ['ok', 0],
        ['ok', 1],
      ]);
      at(T0 + 668); // the 5th token of the burst
      expect((await decide({ limits })).limits[1]).toMatchObject({ state: 'ok', remaining: 0 });
      at(T0 + 1002);
      const shadow = await decide({ limits });
      expect(shadow.allowed).toBe(true);
      expect(shadow.limits[1]).toMatchObject({
        state: 'shadow_denied',
        remaining: 0,
        retryAfterMs: 60 * SEC - 1002,
      });
    });

    test('hits = 0 and units = 0 check without consuming', async () => {
      const { decide, accountId, store } = await setup();
      const fw = limit({ name: 'fw', algorithm: 'fixed_window', limit: 1, windowMs: 60 * SEC });
      const check = { limits: [{ ...fw, hits: 0 }], units: 0, quota: { limit: 1, overage: false } };
      expect((await decide(check)).limits[0]!.remaining).toBe(1);
      const first = await decide({ limits: [fw], quota: { limit: 1, overage: false } });
      expect([first.limits[0]!.remaining, first.quota!.remaining]).toEqual([0, 0]);
      const again = await decide(check);
      expect(again.allowed).toBe(true);
      expect([again.limits[0]!.remaining, again.quota!.used]).toEqual([0, 1]);
      expect((await decide({ limits: [fw] })).allowed).toBe(false);
      const usage = await store.readUsage(accountId);
      const start = billingPeriod(T0, 1).startMs;
      expect(usage).toEqual({ [`${start}|chat|calls`]: 3, [`${start}|chat|units`]: 1 });
    });

    test('quota: calendar month resets at 00:00 UTC on the 1st; hard gate denies at the limit', async () => {
      const end = Date.UTC(2024, 1, 1);
      const { decide, at } = await setup(end - 1);
      const quota = { limit: 3, overage: false };
      expect((await decide({ quota, units: 2 })).quota).toEqual({
        state: 'ok',
        limit: 3,
        used: 2,
        remaining: 1,
        periodStartMs: Date.UTC(2024, 0, 1),
        periodEndMs: end,
      });
      const denied = await decide({ quota, units: 2 });
      expect(denied.allowed).toBe(false);
      expect(denied.quota).toMatchObject({ state: 'denied', used: 2, remaining: 1 });
      at(end);
      const r = await decide({ quota, units: 2 });
      expect(r.allowed).toBe(true);
      expect(r.quota).toMatchObject({
        state: 'ok',
        used: 2,
        periodStartMs: end,
        periodEndMs: Date.UTC(2024, 2, 1),
      });
    });

    test('quota: anchored periods, anchor 31 → last day of February, then back to the 31st', async () => {
      const { decide, at } = await setup(Date.UTC(2024, 1, 28, 23, 59, 59, 999));
      const quota = { limit: 1, overage: false };
      const input = { quota, anchorDay: 31 };
      expect((await decide(input)).quota).toMatchObject({
        state: 'ok',
        periodStartMs: Date.UTC(2024, 0, 31),
        periodEndMs: Date.UTC(2024, 1, 29),
      });
      expect((await decide(input)).allowed).toBe(false);
      at(Date.UTC(2024, 1, 29));
      expect((await decide(input)).quota).toMatchObject({
        state: 'ok',
        used: 1,
        periodStartMs: Date.UTC(2024, 1, 29),
        periodEndMs: Date.UTC(2024, 2, 31),
      });
      at(Date.UTC(2024, 2, 31) - 1);
      expect((await decide(input)).allowed).toBe(false);
      at(Date.UTC(2024, 3, 15));
      expect((await decide({ quota, anchorDay: 15 })).quota).toMatchObject({
        used: 1,
        periodStartMs: Date.UTC(2024, 3, 15),
      });
    });

    test('quota: store and billingPeriod agree across many dates, leap years and month ends', async () => {
      const { decide, at } = await setup();
      const days = [1, 2, 14, 15, 27, 28, 29, 30, 31];
      for (const year of [2023, 2024, 2000, 2100]) {
        for (let month = 0; month < 12; month++) {
          const probes: Array<{ now: number; anchorDay: number }> = [];
          for (const day of days) {
            const midnight = Date.UTC(year, month, day);
            if (new Date(midnight).getUTCMonth() !== month) continue;
            for (const anchorDay of [1, 15, 28, 29, 30, 31])
              probes.push({ now: midnight, anchorDay }, { now: midnight - 1, anchorDay });
          }
          for (const { now, anchorDay } of probes) {
            at(now); // limit 0, units 1: always denied, so nothing is written
            const q = (await decide({ anchorDay, quota: { limit: 0, overage: false } })).quota!;
            const want = billingPeriod(now, anchorDay);
            expect(
              [q.periodStartMs, q.periodEndMs],
              `${new Date(now).toISOString()} anchor ${anchorDay}`,
            ).toEqual([want.startMs, want.endMs]);
          }
        }
      }
      expect(billingPeriod(Date.UTC(2100, 1, 28, 5), 31)).toEqual({
        startMs: Date.UTC(2100, 1, 28),
        endMs: Date.UTC(2100, 2, 31),
      });
      expect(billingPeriod(Date.UTC(2000, 1, 28, 5), 31)).toEqual({
        startMs: Date.UTC(2000, 0, 31),
        endMs: Date.UTC(2000, 1, 29),
      });
      expect(billingPeriod(Date.UTC(2023, 0, 29, 5), 30)).toEqual({
        startMs: Date.UTC(2022, 11, 30),
        endMs: Date.UTC(2023, 0, 30),
      });
    });

    test('quota: the overage soft gate allows past the limit and counts it; null quota still records usage', async () => {
      const { decide, store, accountId } = await setup();
      const quota = { limit: 2, overage: true };
      await decide({ quota });
      await decide({ quota });
      const over = await decide({ quota, units: 5 });
      expect(over.allowed).toBe(true);
      expect(over.quota).toMatchObject({ state: 'overage', used: 7, remaining: 0 });
      const unlimited = await decide({ quota: null, units: 4, endpoint: 'search' });
      expect(unlimited.quota).toBeNull();
      const start = billingPeriod(T0, 1).startMs;
      expect(await store.readUsage(accountId)).toEqual({
        [`${start}|chat|calls`]: 3,
        [`${start}|chat|units`]: 7,
        [`${start}|search|calls`]: 1,
        [`${start}|search|units`]: 4,
      });
    });

    test('endpoint "" (the RLS path) counts limits only: no usage record, no quota state', async () => {
      const { decide, store, accountId } = await setup();
      const limits = [limit({ name: 'fw', algorithm: 'fixed_window', limit: 2, windowMs: 60 * SEC })];
      expect((await decide({ limits, endpoint: '', units: 0 })).allowed).toBe(true);
      expect((await decide({ limits, endpoint: '', units: 0 })).allowed).toBe(true);
      expect((await decide({ limits, endpoint: '', units: 0 })).allowed).toBe(false);
      expect(await store.readUsage(accountId)).toEqual({});
      // A later billable call on the same account starts its quota from zero.
      expect((await decide({ quota: { limit: 5, overage: false }, units: 5 })).quota).toMatchObject({
        state: 'ok',
        used: 5,
      });
    });

    test('credits: seeded once, debited on allow, denied when the cost exceeds the balance', async () => {
      const { decide } = await setup();
      expect((await decide({ credits: { cost: 4, seed: 10 } })).credits).toEqual({ state: 'ok', balance: 6 });
      expect((await decide({ credits: { cost: 4, seed: 99 } })).credits).toEqual({ state: 'ok', balance: 2 });
      const denied = await decide({ credits: { cost: 3, seed: 99 } });
      expect([denied.allowed, denied.credits]).toEqual([false, { state: 'denied', balance: 2 }]);
      expect((await decide({ credits: { cost: 0, seed: 99 } })).credits).toEqual({ state: 'ok', balance: 2 });
      expect((await decide({ credits: { cost: 2, seed: 99 } })).credits).toEqual({ state: 'ok', balance: 0 });
      expect((await decide({ credits: null })).credits).toBeNull();
    });

    test('usage records the credits debited (cost > 0 only), next to calls and units', async () => {
      const { decide, store, accountId } = await setup();
      await decide({ units: 5, credits: { cost: 10, seed: 100 } });
      await decide({ units: 5, credits: { cost: 10, seed: 100 } });
      await decide({ units: 1, credits: { cost: 0, seed: 100 }, endpoint: 'free' });
      expect((await decide({ units: 5, credits: { cost: 90, seed: 100 } })).allowed).toBe(false);
      const start = billingPeriod(T0, 1).startMs;
      expect(await store.readUsage(accountId)).toEqual({
        [`${start}|chat|calls`]: 2,
        [`${start}|chat|units`]: 10,
        [`${start}|chat|credits`]: 20,
        [`${start}|free|calls`]: 1,
        [`${start}|free|units`]: 1,
      });
    });

    test('quotaSeed: the quota continues from Postgres when the store has no state for the current period', async () => {
      const { decide, at } = await setup();
      const period = billingPeriod(T0, 1);
      const quota = { limit: 10, overage: false };
      const seed = { periodStartMs: period.startMs, units: 7 };
      expect((await decide({ quota, quotaSeed: seed })).quota).toMatchObject({ state: 'ok', used: 8 });
      // A seed below the store's count (the normal case: not everything is flushed yet) changes nothing...
      expect((await decide({ quota, quotaSeed: { ...seed, units: 0 } })).quota).toMatchObject({ used: 9 });
      const denied = await decide({ quota, quotaSeed: seed, units: 2 });
      expect([denied.allowed, denied.quota!.used]).toEqual([false, 9]);
      // ...and one above it (state rebuilt from a stale seed, then the key record reloaded) is a floor.
      expect((await decide({ quota, quotaSeed: { ...seed, units: 9 }, units: 0 })).quota).toMatchObject({
        used: 9,
      });
      // A new period starts at 0: the seed is for the old one.
      at(period.endMs);
      expect((await decide({ quota, quotaSeed: seed })).quota).toMatchObject({
        used: 1,
        periodStartMs: period.endMs,
      });
    });

    test('quotaSeed for another period is ignored; a denied first call writes nothing', async () => {
      const { decide } = await setup();
      const period = billingPeriod(T0, 1);
      const quota = { limit: 10, overage: false };
      expect(
        (await decide({ quota, quotaSeed: { periodStartMs: period.startMs - 1, units: 9 } })).quota,
      ).toMatchObject({ used: 1 });
      const { decide: decide2 } = await setup();
      const full = await decide2({ quota, quotaSeed: { periodStartMs: period.startMs, units: 10 } });
      expect([full.allowed, full.quota!.used, full.quota!.state]).toEqual([false, 10, 'denied']);
      expect(
        (await decide2({ quota, quotaSeed: { periodStartMs: period.startMs, units: 3 } })).quota,
      ).toMatchObject({ used: 4 });
    });

    describe('a denied call consumes nothing', () => {
      const limits = [
        limit({ name: 'one', algorithm: 'fixed_window', limit: 1, windowMs: 60 * SEC }),
        limit({ name: 'five', algorithm: 'fixed_window', limit: 5, windowMs: 60 * SEC }),
        limit({ name: 'slide', algorithm: 'sliding_window', limit: 5, windowMs: 60 * SEC }),
        limit({ name: 'bucket', algorithm: 'token_bucket', limit: 5, windowMs: 60 * SEC }),
      ];
      const probe = limits.map((l) => ({ ...l, hits: 0 }));
      const quota = { limit: 3, overage: false };

      /** Calls once, makes `denyingCall` deny, then checks that nothing moved since the first call. */
      async function expectUntouched(denyingCall: Partial<DecideInput>, reason: (r: DecideResult) => void) {
        const { decide, store, accountId } = await setup();
        const first = await decide({ limits, quota, credits: { cost: 2, seed: 5 } });
        expect(first.allowed).toBe(true);
        const usage = await store.readUsage(accountId);
        const denied = await decide({ limits, quota, credits: { cost: 2, seed: 5 }, ...denyingCall });
        expect(denied.allowed).toBe(false);
        reason(denied);
        expect(remaining(denied)).toEqual(remaining(first));
        const after = await decide({ limits: probe, units: 0, quota, credits: { cost: 0, seed: 5 } });
        expect(remaining(after)).toEqual([0, 4, 4, 4]);
        expect(after.quota!.used).toBe(1);
        expect(after.credits!.balance).toBe(3);
        const usageAfter = await store.readUsage(accountId);
        const calls = Object.entries(usageAfter).filter(([f]) => f.endsWith('|calls'));
        expect(calls.map(([, v]) => v)).toEqual([2]); // the first call and the probe, not the denied one
        expect(Object.keys(usageAfter).sort()).toEqual(Object.keys(usage).sort());
      }

      test('denied by one limit: the other limits, quota, credits and usage are unchanged', async () => {
        await expectUntouched({}, (r) =>
          expect(r.limits.map((l) => l.state)).toEqual(['denied', 'ok', 'ok', 'ok']),
        );
      });
      test('denied by the quota', async () => {
        await expectUntouched(
          { limits: limits.map((l, i) => (i === 0 ? { ...l, hits: 0 } : l)), units: 3 },
          (r) => expect(r.quota!.state).toBe('denied'),
        );
      });
      test('denied by credits', async () => {
        await expectUntouched(
          { limits: limits.map((l, i) => (i === 0 ? { ...l, hits: 0 } : l)), credits: { cost: 4, seed: 5 } },
          (r) => expect(r.credits).toEqual({ state: 'denied', balance: 3 }),
        );
      });
    });

    test('every violated limit is reported; a shadow limit that would deny neither denies nor is consumed', async () => {
      const { decide } = await setup();
      const a = limit({ name: 'a', algorithm: 'fixed_window', limit: 1, windowMs: 60 * SEC });
      const b = limit({ name: 'b', algorithm: 'token_bucket', limit: 1, windowMs: 60 * SEC });
      const s = limit({ name: 's', algorithm: 'fixed_window', limit: 1, windowMs: 60 * SEC, shadow: true });
      await decide({ limits: [a, b, s] });
      const both = await decide({ limits: [a, b, s] });
      expect(both.limits.map((l) => l.state)).toEqual(['denied', 'denied', 'shadow_denied']);
      expect(both.limits.every((l) => l.retryAfterMs > 0)).toBe(true);
      const c = limit({ name: 'c', algorithm: 'fixed_window', limit: 5, windowMs: 60 * SEC });
      const shadowOnly = await decide({ limits: [c, s] });
      expect(shadowOnly.allowed).toBe(true);
      expect(shadowOnly.limits.map((l) => [l.state, l.remaining])).toEqual([
        ['ok', 4],
        ['shadow_denied', 0],
      ]);
    });

    test('50 concurrent decisions on one account with limit 10: exactly 10 are allowed', async () => {
      const { decide } = await setup();
      const limits = [limit({ name: 'ten', algorithm: 'fixed_window', limit: 10, windowMs: 60 * SEC })];
      const results = await Promise.all(
        Array.from({ length: 50 }, () => decide({ limits, credits: { cost: 1, seed: 12 } })),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      expect(Math.min(...results.map((r) => r.credits!.balance))).toBe(2);
    });

    test('nonsense input throws a plain Error before touching the store', async () => {
      const { decide } = await setup();
      const ok = limit({ name: 'ok', algorithm: 'fixed_window', limit: 1, windowMs: 1000 });
      const bad: Array<Partial<DecideInput>> = [
        { limits: [{ ...ok, limit: 0 }] },
        { limits: [{ ...ok, hits: -1 }] },
        { limits: [{ ...ok, windowMs: 1.5 }] },
        { limits: [ok, ok] },
        { limits: [{ ...ok, algorithm: 'leaky' as never }] },
        { units: Number.NaN },
        { anchorDay: 32 },
        { accountId: '' },
        { credits: { cost: -1, seed: 0 } },
      ];
      for (const over of bad) {
        const err = await decide(over).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, JSON.stringify(over)).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(StoreUnavailable);
      }
    });
  });
}
