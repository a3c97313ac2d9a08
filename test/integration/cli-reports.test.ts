// `tollgate accounts show`, `usage`, `billing` and `credits add` on a real Postgres, run in process (stdout captured).

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { creditsCommand, accountsCommand } from '../../src/cli/account-commands.js';
import { billingCommand, usageCommand } from '../../src/cli/report-commands.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { InputError } from '../../src/errors.js';
import { prepareDatabase, type PreparedDatabase } from '../support/tollgate.js';

let db: PreparedDatabase;
let sql: PostgresSql;

async function output(run: () => Promise<void>): Promise<any> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await run();
    return JSON.parse(String(log.mock.calls.at(-1)?.[0]));
  } finally {
    log.mockRestore();
  }
}

beforeAll(async () => {
  db = await prepareDatabase({ accounts: [{ label: 'pro', tier: 'pro', credits: 5 }] });
  sql = new PostgresSql(db.url);
  await sql.query(
    `insert into usage_monthly (account_id, period_start, endpoint, calls, units, credits) values ($1, $2, 'chat', 2400, 12000, 0), ($1, $2, 'default', 10, 10, 3)`,
    [db.accounts.pro, new Date(Date.UTC(2026, 10, 1))],
  );
});
afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

describe('report commands', () => {
  it('usage --account --month prints the period by endpoint', async () => {
    const usage = await output(() =>
      usageCommand(sql, ['--account', db.accounts.pro!, '--month', '2026-11', '--json']),
    );
    expect(usage.totals).toEqual({ calls: 2410, units: 12010, credits: 3 });
    expect(usage.endpoints.map((e: { endpoint: string }) => e.endpoint)).toEqual(['chat', 'default']);
  });

  it('billing --account --month prints the summary with the pro-rata overage', async () => {
    const bill = await output(() =>
      billingCommand(sql, ['--account', db.accounts.pro!, '--month', '2026-11', '--json']),
    );
    expect(bill).toMatchObject({
      planPrice: 49,
      includedUnits: 10000,
      unitsUsed: 12010,
      overageUnits: 2010,
      overageAmount: 1.01,
      creditsSpent: 3,
      total: 50.01,
      currency: 'usd',
    });
    await expect(billingCommand(sql, ['--account', db.accounts.pro!, '--month', 'november'])).rejects.toThrow(
      /--month/,
    );
    await expect(usageCommand(sql, ['--account', 'acc_zzzzzzzzzzzzzzzz'])).rejects.toBeInstanceOf(InputError);
  });

  it('credits add writes one ledger row per idempotency key; accounts show has the balance and keys, never key material', async () => {
    const args = [
      'add',
      '--account',
      db.accounts.pro!,
      '--amount',
      '20',
      '--idempotency-key',
      'cli-1',
      '--json',
    ];
    expect(await output(() => creditsCommand(sql, args))).toMatchObject({ applied: true, balance: 25 });
    expect(await output(() => creditsCommand(sql, args))).toEqual({
      applied: false,
      ledgerId: null,
      balance: 25,
    });
    const ledger = await sql.query(
      'select delta, reason, idempotency_key from credit_ledger where account_id = $1 order by id',
      [db.accounts.pro],
    );
    expect(ledger).toEqual([
      { delta: 5, reason: 'initial', idempotency_key: null },
      { delta: 20, reason: 'top_up', idempotency_key: 'cli-1' },
    ]);
    const shown = await output(() => accountsCommand(sql, ['show', db.accounts.pro!, '--json']));
    expect(shown).toMatchObject({
      id: db.accounts.pro,
      tier: 'pro',
      creditBalance: 25,
      keys: [{ id: db.keyIds.pro, state: 'active' }],
    });
    expect(JSON.stringify(shown)).not.toContain(db.keys.pro!.slice(12));
  });
});
