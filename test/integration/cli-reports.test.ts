// `tollgate accounts show`, `usage`, `billing` and `credits add` on a real Postgres, run in process (stdout
// captured) through the CLI's command table; --json output is snake_case like the admin API.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCommand } from '../../src/cli/commands.js';
import { loadConfig } from '../../src/config.js';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { InputError } from '../../src/errors.js';
import { prepareDatabase, type PreparedDatabase } from '../support/tollgate.js';

let db: PreparedDatabase;
let sql: PostgresSql;

const run = (command: string, args: string[]) =>
  runCommand(command, args, loadConfig({ DATABASE_URL: db.url }));

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
  // Created before the billed month: this file is about usage and overage, not the first month.
  await sql.query("update accounts set created_at = '2026-01-01T00:00:00Z' where id = $1", [db.accounts.pro]);
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
      run('usage', ['--account', db.accounts.pro!, '--month', '2026-11', '--json']),
    );
    expect(usage.totals).toEqual({ calls: 2410, units: 12010, credits: 3 });
    expect(usage.endpoints.map((e: { endpoint: string }) => e.endpoint)).toEqual(['chat', 'default']);
  });

  it('billing --account --month prints the summary with the pro-rata overage', async () => {
    const bill = await output(() =>
      run('billing', ['--account', db.accounts.pro!, '--month', '2026-11', '--json']),
    );
    expect(bill).toMatchObject({
      plan_price: 49,
      plan_price_basis: 'period',
      included_units: 10000,
      units_used: 12010,
      overage_units: 2010,
      overage_amount: 1.01,
      credits_spent: 3,
      total: 50.01,
      currency: 'usd',
    });
    await expect(run('billing', ['--account', db.accounts.pro!, '--month', 'november'])).rejects.toThrow(
      /--month/,
    );
    await expect(run('usage', ['--account', 'acc_zzzzzzzzzzzzzzzz'])).rejects.toBeInstanceOf(InputError);
  });

  it('credits add writes one ledger row per idempotency key; accounts show has the balance and keys, never key material', async () => {
    const args = ['--account', db.accounts.pro!, '--amount', '20', '--idempotency-key', 'cli-1', '--json'];
    expect(await output(() => run('credits add', args))).toMatchObject({ applied: true, balance: 25 });
    expect(await output(() => run('credits add', args))).toEqual({
      applied: false,
      ledger_id: null,
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
    const shown = await output(() => run('accounts show', [db.accounts.pro!, '--json']));
    expect(shown).toMatchObject({
      id: db.accounts.pro,
      tier: 'pro',
      credit_balance: 25,
      keys: [{ id: db.keyIds.pro, state: 'active' }],
    });
    expect(JSON.stringify(shown)).not.toContain(db.keys.pro!.slice(12));
  });
});
