// Usage export, exactly once at the sink: the billing API fails for a while (500s, timeouts, dropped
// connections), the exporter — a real `tollgate export` process — is SIGKILLed mid-batch, two more
// exporters finish the job concurrently; the fake dedupes by identifier as Stripe does.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { writeUsageBatches } from '../../src/usage/write-usage-batches.js';
import type { UsageBatch } from '../../src/usage/usage-source.js';
import { startFakeBilling, type FakeBilling } from '../support/fake-billing.js';
import { ROOT } from '../support/processes.js';
import { prepareDatabase, type PreparedDatabase } from '../support/tollgate.js';

const SECRET = 'whsec_test_0123456789';
const STRIPE_KEY = 'sk_test_fake_0123456789';
const BATCHES_PER_ACCOUNT = 60;
const PERIOD = Date.UTC(2026, 0, 1);
const children: ChildProcess[] = [];

function exporter(env: Record<string, string>): {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
} {
  const child = spawn(process.execPath, [`${ROOT}bin/tollgate.js`, 'export'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    cwd: ROOT,
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  children.push(child);
  return {
    child,
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    output: () => output,
  };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Usage rows in the outbox through the flusher's own write path: one `usage` row per batch. */
async function seedUsage(sql: PostgresSql, accounts: string[]): Promise<{ rows: number; units: number }> {
  const batches: UsageBatch[] = [];
  let units = 0;
  for (const accountId of accounts) {
    for (let i = 0; i < BATCHES_PER_ACCOUNT; i++) {
      const u = 1 + (i % 7);
      units += u;
      batches.push({
        batchId: `b-${accountId}-${i}`,
        accountId,
        rows: [{ periodStartMs: PERIOD, endpoint: 'chat', calls: u, units: u, credits: 0 }],
      });
    }
  }
  await writeUsageBatches(sql, batches);
  await writeUsageBatches(sql, batches); // a replay: no second usage, no second outbox row
  return { rows: batches.length, units };
}

async function scenario(sink: 'webhook' | 'stripe'): Promise<void> {
  const db: PreparedDatabase = await prepareDatabase({
    accounts: [
      { label: 'a', tier: 'pro' },
      { label: 'b', tier: 'pro' },
      { label: 'c', tier: 'enterprise' },
    ],
  });
  const sql = new PostgresSql(db.url);
  const fake: FakeBilling = await startFakeBilling({ webhookSecret: SECRET, stripeKey: STRIPE_KEY });
  try {
    const ids = Object.values(db.accounts);
    for (const id of ids)
      await sql.query('update accounts set billing_customer_id = $2 where id = $1', [id, `cus_${id}`]);
    const seeded = await seedUsage(sql, ids);
    const [count] = await sql.query<{ n: number }>(
      `select count(*)::int as n from outbox where kind = 'usage'`,
    );
    expect(count!.n).toBe(seeded.rows);

    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      EXPORT_POLL_MS: '20',
      EXPORT_BATCH: '20',
      EXPORT_TIMEOUT_MS: '700',
      EXPORT_BACKOFF_BASE_MS: '20',
      EXPORT_BACKOFF_MAX_MS: '150',
      EXPORT_MAX_ATTEMPTS: '1000',
      ...(sink === 'stripe'
        ? { STRIPE_API_KEY: STRIPE_KEY, STRIPE_API_BASE: fake.url }
        : { EXPORT_WEBHOOK_URL: `${fake.url}/webhook`, EXPORT_WEBHOOK_SECRET: SECRET }),
    };
    // 1. The billing API fails for a while: every request a 500, a timeout or a dropped connection.
    fake.mode = 'chaos';
    const first = exporter(env);
    await until('failing deliveries', () => fake.requests >= 45);
    // 2. It recovers but answers slowly; the exporter is SIGKILLed while a batch is in flight.
    fake.mode = 'hold';
    await until('a batch in flight', () => fake.held >= 5);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    fake.release();
    fake.mode = 'ok';
    // 3. Two exporters at once finish it.
    const [second, third] = [exporter(env), exporter(env)];
    await until(
      'every row delivered',
      async () =>
        (
          await sql.query<{ n: number }>('select count(*)::int as n from outbox where delivered_at is null')
        )[0]!.n === 0,
      45_000,
    );
    // One exporter can finish every row before the other has even started: a SIGTERM sent before the
    // process handles it would end it by signal (exit code null), which is not what this test checks.
    await until('both exporters running', () =>
      [second, third].every((e) => e.output().includes('exporter running')),
    );
    second.child.kill('SIGTERM');
    third.child.kill('SIGTERM');
    expect([await second.exited, await third.exited]).toEqual([0, 0]);

    const outboxIds = (await sql.query<{ id: number }>('select id from outbox order by id')).map(
      (r) => `tollgate-outbox-${r.id}`,
    );
    expect([...fake.events.keys()].sort()).toEqual(outboxIds.sort());
    expect(fake.events.size).toBe(seeded.rows);
    expect([...fake.events.values()].reduce((sum, e) => sum + (e.value ?? 0), 0)).toBe(seeded.units);
    expect([...fake.events.values()].every((e) => e.customer?.startsWith('cus_acc_'))).toBe(true);
    expect(fake.badSignatures).toBe(0);
    expect(fake.deliveries).toBeGreaterThan(fake.events.size); // the killed batch and the timeouts were sent again
    console.log(
      `[${sink}] rows ${seeded.rows}, distinct identifiers ${fake.events.size}, raw deliveries ${fake.deliveries} (${fake.deliveries - fake.events.size} redeliveries deduped), requests ${fake.requests}`,
    );
  } finally {
    await fake.stop();
    await sql.close();
    await db.drop();
  }
}

beforeAll(() => undefined);
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('usage export survives a failing billing API and a SIGKILLed exporter', () => {
  test('signed webhooks: every usage row delivered, once per identifier', () => scenario('webhook'), 90_000);
  test(
    'Stripe meter events through the stripe package: every usage row delivered, once per identifier',
    () => scenario('stripe'),
    90_000,
  );
});
