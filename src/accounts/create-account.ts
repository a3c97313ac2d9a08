// Support and billing (CLI, admin API): open an account on a tier, with optional starting credits.

import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { randomBase32 } from '../keys/api-key.js';

export interface NewAccount {
  name: string;
  tier: string;
  /** 1..31; 1 (the default) = calendar months UTC. */
  billingAnchorDay?: number;
  /** Starting credit balance, written as one ledger row. */
  credits?: number;
}

/** `acc_` + 16 lower-case base32 characters (80 random bits). */
export const newAccountId = (): string => `acc_${randomBase32(16)}`;

export async function createAccount(sql: Sql, input: NewAccount): Promise<{ id: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const anchorDay = input.billingAnchorDay ?? 1;
  const credits = input.credits ?? 0;
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) {
    problems.push({ path: 'name', message: 'expected a non-empty name (at most 200 characters)' });
  }
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 31)
    problems.push({ path: 'billingAnchorDay', message: 'expected an integer 1..31' });
  if (!Number.isSafeInteger(credits) || credits < 0)
    problems.push({ path: 'credits', message: 'expected an integer >= 0' });
  if (problems.length > 0) throw new InputError(problems);
  return sql.transaction(async (tx) => {
    const known = await tx.query<{ name: string }>('select name from tiers order by position');
    if (!known.some((t) => t.name === input.tier)) {
      throw new InputError([
        {
          path: 'tier',
          message: `unknown tier "${input.tier}" (known: ${known.map((t) => t.name).join(', ') || 'none; apply a policy first'})`,
        },
      ]);
    }
    const id = newAccountId();
    await tx.query('insert into accounts (id, name, tier, billing_anchor_day) values ($1, $2, $3, $4::int)', [
      id,
      input.name,
      input.tier,
      anchorDay,
    ]);
    if (credits > 0)
      await tx.query(
        "insert into credit_ledger (account_id, delta, reason) values ($1, $2::bigint, 'initial')",
        [id, credits],
      );
    return { id };
  });
}

/** Throws InputError naming `field` when the account does not exist. */
export async function requireAccount(sql: Sql, accountId: string, field = 'accountId'): Promise<void> {
  const rows = await sql.query('select 1 from accounts where id = $1', [accountId]);
  if (rows.length === 0) throw new InputError([{ path: field, message: `unknown account "${accountId}"` }]);
}
