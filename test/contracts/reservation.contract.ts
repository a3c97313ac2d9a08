// The reservation contract (metered calls): the same bodies run on the Redis (decide.lua + settle.lua)
// and in-process stores. A reservation takes its units at the decision; settle replaces them with the
// actual count, once.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { CounterStore, DecideInput } from '../../src/counters/counter-store.js';
import { newReservationId } from '../../src/metering/reservation-id.js';
import type { ReservationStore } from '../../src/metering/reservation-settler.js';
import { chatCall } from '../support/decide-inputs.js';

export type ReservingStore = CounterStore &
  ReservationStore & { readUsage(accountId: string): Promise<Record<string, number>> };

/** 2024-01-10T12:00:00Z. */
const T0 = Date.UTC(2024, 0, 10, 12);
const PERIOD = Date.UTC(2024, 0, 1);
const TTL = 600_000;

export function describeReservations(
  name: string,
  make: (clock: { now: () => number }) => Promise<ReservingStore>,
  cleanup?: (accountIds: string[]) => Promise<void>,
): void {
  describe(`Reservation contract: ${name}`, () => {
    const accounts: string[] = [];
    const open: CounterStore[] = [];
    let t = T0;
    const clock = { now: () => t };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    afterAll(async () => {
      await cleanup?.(accounts);
    });

    async function setup() {
      t = T0;
      const store = await make(clock);
      open.push(store);
      const accountId = `rv-${randomUUID()}`;
      accounts.push(accountId);
      /** A metered call reserving `units` (the policy's reserve, or a raised one). */
      const reserve = (units: number, over: Partial<DecideInput> = {}, ttlMs = TTL) =>
        store.decide(
          chatCall(accountId, {
            units,
            quota: { limit: 10_000, overage: false },
            reservation: { id: newReservationId(accountId, t, ttlMs), ttlMs },
            ...over,
          }),
        );
      const quotaUsed = async () =>
        (await store.decide(chatCall(accountId, { units: 0, quota: { limit: 10_000, overage: false } })))
          .quota!.used;
      return { store, accountId, reserve, quotaUsed };
    }

    test('an allowed metered call takes the reserved units and names its reservation', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      const r = await reserve(2000);
      expect(r.allowed).toBe(true);
      expect(r.reservation).toMatch(new RegExp(`\\.${accountId}$`));
      expect(r.quota!.used).toBe(2000);
      expect(await quotaUsed()).toBe(2000);
      expect(await store.readUsage(accountId)).toMatchObject({
        [`${PERIOD}|chat|calls`]: 2,
        [`${PERIOD}|chat|units`]: 2000,
      });
      expect(await store.openReservations(accountId)).toEqual([
        { id: r.reservation, endpoint: 'chat', units: 2000, expiresAtMs: T0 + TTL },
      ]);
    });

    test('settle lower refunds the difference: quota, usage and credits', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      const credits = { cost: 2000, seed: 5000 };
      const r = await reserve(2000, { credits });
      expect(r.credits).toEqual({ state: 'ok', balance: 3000 });
      expect(await store.settle(r.reservation!, 700)).toEqual({
        outcome: 'settled',
        reserved: 2000,
        units: 700,
      });
      expect(await quotaUsed()).toBe(700);
      const usage = await store.readUsage(accountId);
      expect(usage[`${PERIOD}|chat|units`]).toBe(700);
      expect(usage[`${PERIOD}|chat|credits`]).toBe(700);
      expect(usage[`${PERIOD}|chat|calls`]).toBe(2);
      // One credit per unit: the next call sees the refunded balance.
      const next = await reserve(10, { credits: { cost: 10, seed: 5000 } });
      expect(next.credits).toEqual({ state: 'ok', balance: 5000 - 700 - 10 });
      expect(await store.openReservations(accountId)).toHaveLength(1);
    });

    test('settle higher debits the overrun; credits go negative by that one call, then deny', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      const r = await reserve(100, { credits: { cost: 100, seed: 150 } });
      expect(r.credits!.balance).toBe(50);
      expect(await store.settle(r.reservation!, 400)).toMatchObject({ outcome: 'settled', units: 400 });
      expect(await quotaUsed()).toBe(400);
      const denied = await reserve(100, { credits: { cost: 100, seed: 150 } });
      expect(denied.allowed).toBe(false);
      expect(denied.credits).toEqual({ state: 'denied', balance: 150 - 400 });
      expect(denied.reservation).toBeUndefined();
      expect((await store.readUsage(accountId))[`${PERIOD}|chat|units`]).toBe(400);
    });

    test('settle twice is applied once; null settles at the reserved amount', async () => {
      const { store, reserve, quotaUsed } = await setup();
      const a = await reserve(500);
      expect(await store.settle(a.reservation!, 800)).toMatchObject({ outcome: 'settled' });
      expect(await store.settle(a.reservation!, 800)).toEqual({ outcome: 'already_settled' });
      expect(await store.settle(a.reservation!, 1)).toEqual({ outcome: 'already_settled' });
      expect(await quotaUsed()).toBe(800);
      const b = await reserve(300);
      expect(await store.settle(b.reservation!, null)).toEqual({
        outcome: 'settled',
        reserved: 300,
        units: 300,
      });
      expect(await quotaUsed()).toBe(1100);
    });

    test('unknown and malformed ids are unknown; nothing changes', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      await reserve(50);
      expect(await store.settle(newReservationId(accountId, t, TTL), 1)).toEqual({ outcome: 'unknown' });
      expect(await store.settle('not-a-reservation', 1)).toEqual({ outcome: 'unknown' });
      expect(await store.settle(`zz.${'A'.repeat(22)}.`, 1)).toEqual({ outcome: 'unknown' });
      expect(await quotaUsed()).toBe(50);
    });

    test('an unsettled reservation expires at its reserved amount: a late settle changes nothing', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      const r = await reserve(900, {}, 300);
      // Both clocks move on: the store's (memory) and the real one (Redis expires keys in real time).
      t += 400;
      await sleep(400);
      expect(await store.openReservations(accountId)).toEqual([]);
      expect(await store.settle(r.reservation!, 10)).toEqual({ outcome: 'already_settled' });
      expect(await quotaUsed()).toBe(900);
    });

    test('a denied call reserves nothing and names no reservation', async () => {
      const { store, accountId, reserve } = await setup();
      const r = await reserve(20_000);
      expect(r.allowed).toBe(false);
      expect(r.reservation).toBeUndefined();
      expect(await store.openReservations(accountId)).toEqual([]);
    });

    test('concurrent calls never over-spend the quota by more than the reservations in flight', async () => {
      const { store, accountId, reserve, quotaUsed } = await setup();
      const quota = { limit: 1000, overage: false };
      const results = await Promise.all(Array.from({ length: 60 }, () => reserve(40, { quota })));
      const allowed = results.filter((r) => r.allowed);
      // 25 reservations of 40 fill the quota exactly; the other 35 are denied.
      expect(allowed).toHaveLength(25);
      // Each settles at a different count, some above the reservation, concurrently.
      const settled = await Promise.all(allowed.map((r, i) => store.settle(r.reservation!, 30 + i)));
      expect(settled.every((s) => s.outcome === 'settled')).toBe(true);
      const total = allowed.reduce((sum, _r, i) => sum + 30 + i, 0);
      expect(await quotaUsed()).toBe(total);
      expect((await store.readUsage(accountId))[`${PERIOD}|chat|units`]).toBe(total);
      // Past the quota now: the next reservation is denied.
      expect((await reserve(1, { quota })).allowed).toBe(false);
    });
  });
}
