// Metered calls (bill by tokens): what a reservation adds to a decision, and what a settle costs.
// Tollgate's own store against a redis-server of its own, in this process: the same decisions
// (one limit, a quota, credits) without and with a reservation, then one settle per reservation.

import { Redis } from 'ioredis';
import type { DecideInput } from '../../src/counters/counter-store.js';
import * as C from './config.js';
import { fromDist, PER_SECOND, redisCpuUs, startOwnRedis } from './own-redis.js';
import { base32, commandDelta, commandStats } from './stores.js';

type StoreModule = typeof import('../../src/counters/redis-counter-store.js');
type IdModule = typeof import('../../src/metering/reservation-id.js');

export interface MeteringPhase {
  /** Script calls (FCALL/EVALSHA/EVAL) per operation: 1 per decision with or without a reservation. */
  scriptCallsPerOp: number;
  /** Redis CPU (user + sys) per operation, µs. */
  redisCpuUs: number;
  /** Wall time per operation at CONCURRENCY in flight, µs (this process's client side included). */
  wallUs: number;
}

export interface MeteringRun {
  operations: number;
  plain: MeteringPhase;
  reserved: MeteringPhase;
  settle: MeteringPhase;
}

const OPERATIONS = 20_000;
const CONCURRENCY = 200;
const ACCOUNTS = 1_000;

export async function measureMetering(logDir: string): Promise<MeteringRun> {
  const { url, proc } = await startOwnRedis('redis-metering', logDir);
  const { RedisCounterStore } = await fromDist<StoreModule>('counters/redis-counter-store.js');
  const { newReservationId } = await fromDist<IdModule>('metering/reservation-id.js');
  const admin = new Redis(url);
  const store = new RedisCounterStore({ redis: new Redis(url) });
  try {
    const ids = Array.from({ length: ACCOUNTS }, () => `acc_${base32(16)}`);
    const call = (i: number, reserve: boolean): DecideInput => {
      const accountId = ids[i % ACCOUNTS]!;
      const input = chatCall(accountId);
      if (reserve)
        input.reservation = { id: newReservationId(accountId, Date.now(), 600_000), ttlMs: 600_000 };
      return input;
    };
    const reservations: string[] = [];
    const phase = async (run: (i: number) => Promise<unknown>): Promise<MeteringPhase> => {
      const before = await commandStats(admin);
      const cpuBefore = await redisCpuUs(admin);
      const started = performance.now();
      for (let i = 0; i < OPERATIONS; i += CONCURRENCY)
        await Promise.all(
          Array.from({ length: Math.min(CONCURRENCY, OPERATIONS - i) }, (_, j) => run(i + j)),
        );
      const wallUs = ((performance.now() - started) * 1000) / OPERATIONS;
      const cpu = (await redisCpuUs(admin)) - cpuBefore;
      const commands = commandDelta(before, await commandStats(admin)).byCommand;
      return {
        scriptCallsPerOp:
          ((commands.fcall ?? 0) + (commands.evalsha ?? 0) + (commands.eval ?? 0)) / OPERATIONS,
        redisCpuUs: cpu / OPERATIONS,
        wallUs,
      };
    };
    // Warm: scripts loaded, every account's keys present.
    await Promise.all(ids.map((_, i) => store.decide(call(i, false))));
    const plain = await phase((i) => store.decide(call(i, false)));
    const reserved = await phase(async (i) => {
      const r = await store.decide(call(i, true));
      if (!r.reservation) throw new Error('bench: a metered decision made no reservation');
      reservations.push(r.reservation);
    });
    const settle = await phase(async (i) => {
      const r = await store.settle(reservations[i]!, 1000 + (i % 3000));
      if (r.outcome !== 'settled') throw new Error(`bench: settle answered ${r.outcome}`);
    });
    const run = { operations: OPERATIONS, plain, reserved, settle };
    C.log(`metered decisions: ${JSON.stringify(run)}`);
    return run;
  } finally {
    await store.close();
    admin.disconnect();
    await proc.stop();
  }
}

/** A chat call as the decision path builds it: one fixed window, a quota, credits, usage. */
const chatCall = (accountId: string): DecideInput => ({
  accountId,
  limits: [PER_SECOND],
  anchorDay: 1,
  units: 2000,
  quota: { limit: 1_000_000_000_000, overage: false },
  credits: { cost: 2000, seed: 1_000_000_000_000 },
  endpoint: 'chat',
});
