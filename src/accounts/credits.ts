// Billing (CLI, admin API): credit top-ups and corrections, one ledger row each, idempotent by key.

import { notifyChange } from '../db/notify-change.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { requireAccount } from './create-account.js';

export interface CreditsResult {
  /** false when the idempotency key was already used (the earlier top-up stands). */
  applied: boolean;
  /** The ledger row this call wrote; null when it applied nothing. */
  ledgerId: number | null;
  /** Ledger balance in Postgres after this call (credits). */
  balance: number;
}

/** `amount` credits (negative = correction). The same `idempotencyKey` applies at most once. */
export async function addCredits(
  sql: Sql,
  accountId: string,
  amount: number,
  idempotencyKey?: string,
): Promise<CreditsResult> {
  if (!Number.isSafeInteger(amount) || amount === 0)
    throw new InputError([{ path: 'amount', message: 'expected a non-zero integer' }]);
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== 'string' || idempotencyKey === '' || idempotencyKey.length > 200)
  ) {
    throw new InputError([
      { path: 'idempotencyKey', message: 'expected a non-empty string (at most 200 characters)' },
    ]);
  }
  return sql.transaction(async (tx) => {
    await requireAccount(tx, accountId);
    const inserted = await tx.query<{ id: number }>(
      `insert into credit_ledger (account_id, delta, reason, idempotency_key) values ($1, $2::bigint, $3, $4)
       on conflict (idempotency_key) do nothing returning id`,
      [accountId, amount, amount > 0 ? 'top_up' : 'adjustment', idempotencyKey ?? null],
    );
    // Every replica applies the row to the live balance at once (once per row id: apply-credits.lua).
    if (inserted[0])
      await notifyChange(tx, {
        kind: 'credits',
        account: accountId,
        ledgerId: String(inserted[0].id),
        delta: amount,
      });
    if (inserted.length === 0) {
      const [earlier] = await tx.query<{ account_id: string; delta: number }>(
        'select account_id, delta from credit_ledger where idempotency_key = $1',
        [idempotencyKey],
      );
      if (earlier && (earlier.account_id !== accountId || earlier.delta !== amount)) {
        throw new InputError([
          { path: 'idempotencyKey', message: 'already used for a different account or amount' },
        ]);
      }
    }
    const ledgerId = inserted[0] ? Number(inserted[0].id) : null;
    return { applied: ledgerId !== null, ledgerId, balance: await creditBalance(tx, accountId) };
  });
}

/** Sum of the account's ledger, in credits. */
export async function creditBalance(sql: Sql, accountId: string): Promise<number> {
  const [row] = await sql.query<{ balance: number }>(
    'select coalesce(sum(delta), 0) as balance from credit_ledger where account_id = $1',
    [accountId],
  );
  return row?.balance ?? 0;
}
