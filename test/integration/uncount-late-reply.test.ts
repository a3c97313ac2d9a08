// A decision Redis ran whose reply reached the client only after the client answered "unavailable"
// (Redis stopped between running the script and writing the reply): uncount.lua takes its books back.
// The window is reproduced exactly with a proxy that forwards the calls but holds Redis' replies.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import type { DecideInput } from '../../src/counters/counter-store.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { RedisUsageSource } from '../../src/counters/redis-usage-source.js';
import { StoreUnavailable } from '../../src/errors.js';
import { billingPeriod } from '../../src/billing/billing-period.js';
import { newReservationId } from '../../src/metering/reservation-id.js';
import { privateRedis } from '../support/private-redis.js';

/** Forwards client → Redis always; Redis → client only while not holding (held bytes go on release). */
async function startReplyHolder(port: number) {
  const held: Array<{ to: Socket; data: Buffer }> = [];
  const sockets = new Set<Socket>();
  let holding = false;
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => (holding ? held.push({ to: client, data }) : client.write(data)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    hold: () => (holding = true),
    release: () => {
      holding = false;
      for (const { to, data } of held.splice(0)) to.write(data);
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const own = privateRedis();

const input = (accountId: string, cost: number): DecideInput => ({
  accountId,
  anchorDay: 1,
  units: 2,
  quota: { limit: 100, overage: false },
  credits: { cost, seed: 10 },
  endpoint: 'chat',
  limits: [
    { id: 'r', name: 'r', algorithm: 'fixed_window', limit: 100, windowMs: 60_000, shadow: false, hits: 1 },
  ],
});

/** A store whose replies pass a holder; `uncount` resolves with the count it took back (-1: failed). */
async function storeBehindHolder() {
  const proxy = await startReplyHolder(own.server.port);
  const redis = new Redis({ port: proxy.port, maxRetriesPerRequest: 0, enableAutoPipelining: false });
  let uncounted!: (n: number) => void;
  const uncount = new Promise<number>((resolve) => (uncounted = resolve));
  const store = new RedisCounterStore({
    redis,
    timeoutMs: 100,
    onUncount: (n, err) => (err === undefined ? uncounted(n) : uncounted(-1)),
  });
  return { proxy, store, uncount };
}

test('a decision that ran but was answered unavailable is uncounted; a denied one is left alone', async () => {
  const { proxy, store, uncount } = await storeBehindHolder();
  const usage = new RedisUsageSource(own.admin);
  try {
    // Counted and answered: the books the late decisions must leave as they are.
    expect((await store.decide(input('late', 3))).allowed).toBe(true);
    const period = (await store.decide(input('late', 3))).quota!.periodStartMs;
    proxy.hold();
    const late = [store.decide(input('late', 3)), store.decide(input('late', 50))]; // allowed, denied (credits)
    const outcomes = await Promise.allSettled(late);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailable);
    }
    // The allowed one did run in Redis: 3 calls counted so far. The flusher takes them meanwhile.
    expect(await own.admin.hget('{a:late}:usage', `${period}|chat|calls`)).toBe('3');
    const taken = await usage.take('late', 'b1');
    expect(taken!.rows).toEqual([
      { periodStartMs: period, endpoint: 'chat', calls: 3, units: 6, credits: 9 },
    ]);
    await usage.ack('late', 'b1');
    proxy.release();
    expect(await uncount).toBe(1);
    // What the client was told: 2 allowed calls, 4 units, 6 credits.
    expect(await own.admin.hget('{a:late}:quota', 'u')).toBe('4');
    expect(await own.admin.get('{a:late}:credits')).toBe('4');
    // The late call had been flushed: it comes back as a correction of exactly one call.
    const correction = await usage.take('late', 'b2');
    expect(correction!.rows).toEqual([
      { periodStartMs: period, endpoint: 'chat', calls: -1, units: -2, credits: -3 },
    ]);
    // The window counter stays consumed (the request reached Redis): 3 hits.
    expect(await own.admin.hget('{a:late}:quota', 'l:r:c')).toBe('3');
  } finally {
    await store.close();
    await proxy.close();
  }
}, 30_000);

test("an unlimited plan's decision (usage record, no quota, no credits) is uncounted in its own period", async () => {
  const { proxy, store, uncount } = await storeBehindHolder();
  const usage = new RedisUsageSource(own.admin);
  const unlimited = (): DecideInput => ({ ...input('unlimited', 0), quota: null, credits: null });
  try {
    expect((await store.decide(unlimited())).allowed).toBe(true);
    proxy.hold();
    await expect(store.decide(unlimited())).rejects.toBeInstanceOf(StoreUnavailable);
    proxy.release();
    expect(await uncount).toBe(1);
    // What the client was told: 1 allowed call, in the period it was counted in.
    const period = billingPeriod(Date.now(), 1).startMs;
    expect((await usage.take('unlimited', 'u1'))!.rows).toEqual([
      { periodStartMs: period, endpoint: 'chat', calls: 1, units: 2, credits: 0 },
    ]);
    // Without a quota limit there is no quota count to take back from.
    expect(await own.admin.hget('{a:unlimited}:quota', 'u')).toBeNull();
  } finally {
    await store.close();
    await proxy.close();
  }
}, 30_000);

test('a metered decision answered unavailable loses its reservation too: nobody can settle it', async () => {
  const { proxy, store, uncount } = await storeBehindHolder();
  try {
    const id = newReservationId('metered', Date.now(), 600_000);
    const key = `{a:metered}:r:${id.slice(0, id.lastIndexOf('.'))}`;
    // Connected and answered once (the held reply must be a decision's, not the connection's).
    expect((await store.decide(input('metered-warm', 3))).allowed).toBe(true);
    proxy.hold();
    const late = store.decide({ ...input('metered', 3), reservation: { id, ttlMs: 600_000 } });
    await expect(late).rejects.toBeInstanceOf(StoreUnavailable);
    // It ran: the record is there until the late reply is taken back.
    expect(await own.admin.get(key)).toMatch(/^\d+\|2\|3\|chat$/);
    proxy.release();
    expect(await uncount).toBe(1);
    expect(await own.admin.exists(key)).toBe(0);
    expect(await own.admin.hget('{a:metered}:quota', 'u')).toBe('0');
    expect(await store.settle(id, 1)).toEqual({ outcome: 'unknown' });
  } finally {
    await store.close();
    await proxy.close();
  }
}, 30_000);
