// The UsageSource contract and the flusher's exactly-once property: the same bodies on Redis + Postgres and memory + PGlite.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAccount } from '../../src/accounts/create-account.js';
import { billingPeriod } from '../../src/billing/billing-period.js';
import type { CounterStore, DecideInput } from '../../src/counters/counter-store.js';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import { StoreUnavailable } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { startUsageFlusher } from '../../src/usage/start-usage-flusher.js';
import type { UsageSource } from '../../src/usage/usage-source.js';
import { writeUsageBatches } from '../../src/usage/write-usage-batches.js';
import { chatCall } from '../support/decide-inputs.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

export interface UsageFixture {
  counters: CounterStore;
  source: UsageSource;
  sql: Sql;
  close(): Promise<void>;
}

const logger = createLogger('silent');
const PERIOD = billingPeriod(Date.now(), 1).startMs;

/** A Sql whose transactions fail as if Postgres were down, while `down` is true. */
function flaky(sql: Sql): Sql & { down: boolean } {
  const wrapper = Object.create(sql) as Sql & { down: boolean };
  wrapper.down = false;
  wrapper.transaction = (fn) =>
    wrapper.down
      ? Promise.reject(new StoreUnavailable('postgres', 'connection refused (test)'))
      : sql.transaction(fn);
  wrapper.query = (text, params) =>
    wrapper.down
      ? Promise.reject(new StoreUnavailable('postgres', 'connection refused (test)'))
      : sql.query(text, params);
  return wrapper;
}

export function describeUsageSource(name: string, open: () => Promise<UsageFixture>): void {
  describe(`UsageSource contract: ${name}`, () => {
    let f: UsageFixture;
    beforeAll(async () => {
      f = await open();
      await migrate(f.sql);
      await savePolicy(f.sql, parsePolicy(DEMO_POLICY_YAML));
    });
    afterAll(async () => f?.close());

    async function account() {
      const { id } = await createAccount(f.sql, { name: 'usage', tier: 'free' });
      const call = (over: Partial<DecideInput> = {}): DecideInput => ({
        accountId: id,
        limits: [],
        anchorDay: 1,
        units: 3,
        quota: null,
        credits: { cost: 2, seed: 1_000_000 },
        endpoint: 'chat',
        ...over,
      });
      const decideMany = async (n: number) => {
        for (let i = 0; i < n; i++) expect((await f.counters.decide(call())).allowed).toBe(true);
      };
      const monthly = async () =>
        f.sql.query<{ calls: number; units: number; credits: number }>(
          'select calls::int, units::int, credits::int from usage_monthly where account_id = $1',
          [id],
        );
      const debits = async () =>
        f.sql.query<{ delta: number; idempotency_key: string }>(
          "select delta::int, idempotency_key from credit_ledger where account_id = $1 and reason = 'usage' order by id",
          [id],
        );
      return { id, decideMany, monthly, debits };
    }

    test('take moves the usage into one batch; a pending batch comes back with the same id until acked', async () => {
      const { id, decideMany } = await account();
      expect(await f.source.take(id, 'never')).toBeNull();
      await decideMany(3);
      expect(await f.source.accounts()).toContain(id);
      const a = await f.source.take(id, 'batch-a');
      expect(a).toEqual({
        batchId: 'batch-a',
        accountId: id,
        rows: [{ periodStartMs: PERIOD, endpoint: 'chat', calls: 3, units: 9, credits: 6 }],
      });
      await decideMany(2); // counted in a fresh live hash, not in the pending batch
      expect(await f.source.take(id, 'batch-b')).toEqual(a);
      await f.source.ack(id, 'batch-x'); // not the pending one: a no-op
      expect(await f.source.take(id, 'batch-b')).toEqual(a);
      await f.source.ack(id, 'batch-a');
      const b = await f.source.take(id, 'batch-b');
      expect(b?.rows).toEqual([{ periodStartMs: PERIOD, endpoint: 'chat', calls: 2, units: 6, credits: 4 }]);
      await f.source.ack(id, 'batch-b');
      await f.source.ack(id, 'batch-b');
      expect(await f.source.take(id, 'batch-c')).toBeNull();
      // A source that tracks what its decisions counted still lists the account (counted after its
      // last listing); once a take found nothing there, it no longer does.
      if ((await f.source.accounts()).includes(id)) expect(await f.source.take(id, 'batch-d')).toBeNull();
      expect(await f.source.accounts()).not.toContain(id);
    });

    test('exactly once: a replayed batch id changes nothing; one ledger debit per batch', async () => {
      const { id, decideMany, monthly, debits } = await account();
      await decideMany(4);
      const batch = (await f.source.take(id, randomUUID()))!;
      expect(await writeUsageBatches(f.sql, [batch])).toEqual([batch.batchId]);
      // The replica died before ack: every later write of the same batch is a no-op.
      await writeUsageBatches(f.sql, [batch]);
      await Promise.all([writeUsageBatches(f.sql, [batch]), writeUsageBatches(f.sql, [batch])]);
      expect(await monthly()).toEqual([{ calls: 4, units: 12, credits: 8 }]);
      expect(await debits()).toEqual([{ delta: -8, idempotency_key: `usage:${batch.batchId}` }]);
      // The flusher finds the pending batch, writes nothing twice, acks it, then takes the newer usage.
      await decideMany(1);
      const flusher = startUsageFlusher({ sources: [f.source], sql: f.sql, logger, intervalMs: 3_600_000 });
      expect(await flusher.flushNow()).toEqual({ batches: 2, failed: false });
      expect(await monthly()).toEqual([{ calls: 5, units: 15, credits: 10 }]);
      expect((await debits()).map((d) => d.delta)).toEqual([-8, -2]);
      expect(await flusher.stop()).toEqual({ batches: 0, failed: false });
      expect(await f.source.accounts()).not.toContain(id);
    });

    test('a correction batch (uncount.lua took back a flushed call) nets out in usage and gives the credits back', async () => {
      const { id, decideMany, monthly, debits } = await account();
      await decideMany(3);
      const batch = (await f.source.take(id, randomUUID()))!;
      await writeUsageBatches(f.sql, [batch]);
      await f.source.ack(id, batch.batchId);
      const row = { periodStartMs: PERIOD, endpoint: 'chat', calls: -1, units: -3, credits: -2 };
      const correction = { batchId: randomUUID(), accountId: id, rows: [row] };
      expect(await writeUsageBatches(f.sql, [correction])).toEqual([correction.batchId]);
      await writeUsageBatches(f.sql, [correction]); // a replay is a no-op here too
      expect(await monthly()).toEqual([{ calls: 2, units: 6, credits: 4 }]);
      expect((await debits()).map((d) => d.delta)).toEqual([-6, 2]);
    });

    test('Postgres down: usage waits in the store under the same batch id, and is complete once it is back', async () => {
      const { id, decideMany, monthly } = await account();
      const sql = flaky(f.sql);
      const flusher = startUsageFlusher({ sources: [f.source], sql, logger, intervalMs: 3_600_000 });
      await decideMany(3);
      sql.down = true;
      expect((await flusher.flushNow()).failed).toBe(true);
      await decideMany(2);
      // The account list needs Postgres too; a take before the outage leaves a pending batch.
      sql.down = false;
      const pending = (await f.source.take(id, 'pending-1'))!;
      sql.down = true;
      expect((await flusher.flushNow()).failed).toBe(true);
      await decideMany(1);
      sql.down = false;
      expect((await flusher.stop()).failed).toBe(false);
      expect(await monthly()).toEqual([{ calls: 6, units: 18, credits: 12 }]);
      expect(
        await f.sql.query('select 1 from usage_batches where batch_id = $1', [pending.batchId]),
      ).toHaveLength(1);
    });

    test('two flushers at once (two replicas): every call counted once', async () => {
      const { decideMany, monthly } = await account();
      const flushers = [0, 1].map(() =>
        startUsageFlusher({ sources: [f.source], sql: f.sql, logger, intervalMs: 3_600_000 }),
      );
      for (let round = 0; round < 5; round++) {
        await Promise.all([decideMany(7), flushers[0]!.flushNow(), flushers[1]!.flushNow()]);
      }
      await Promise.all(flushers.map((fl) => fl.stop()));
      expect(await monthly()).toEqual([{ calls: 35, units: 105, credits: 70 }]);
    });

    test('usage of accounts unknown to this database is left in the store', async () => {
      const stranger = `acc_${'z'.repeat(16)}`;
      await f.counters.decide(chatCall(stranger));
      const flusher = startUsageFlusher({ sources: [f.source], sql: f.sql, logger, intervalMs: 3_600_000 });
      await flusher.stop();
      const batch = await f.source.take(stranger, 'stranger');
      expect(batch?.rows[0]?.calls).toBeGreaterThanOrEqual(1);
      await f.source.ack(stranger, 'stranger');
    });
  });
}
