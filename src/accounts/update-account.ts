// Support and billing (admin API): change an account's tier, status, billing anchor day or billing customer id.

import { notifyChange } from '../db/notify-change.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import type { AccountStatus } from './account-status.js';

export interface AccountPatch {
  tier?: string;
  status?: AccountStatus;
  /** 1..31 */
  billingAnchorDay?: number;
  /** null clears it. */
  billingCustomerId?: string | null;
}

/** Applies every given field in one statement; InputError naming the field (unknown tier, bad value, unknown account). */
export async function updateAccount(sql: Sql, accountId: string, patch: AccountPatch): Promise<void> {
  const problems: Array<{ path: string; message: string }> = [];
  const { tier, status, billingAnchorDay, billingCustomerId } = patch;
  if (status !== undefined && status !== 'active' && status !== 'suspended')
    problems.push({ path: 'status', message: 'expected active or suspended' });
  if (
    billingAnchorDay !== undefined &&
    (!Number.isInteger(billingAnchorDay) || billingAnchorDay < 1 || billingAnchorDay > 31)
  ) {
    problems.push({ path: 'billingAnchorDay', message: 'expected an integer 1..31' });
  }
  if (
    billingCustomerId !== undefined &&
    billingCustomerId !== null &&
    (billingCustomerId === '' || billingCustomerId.length > 200)
  ) {
    problems.push({
      path: 'billingCustomerId',
      message: 'expected a non-empty string (at most 200 characters) or null',
    });
  }
  if (problems.length > 0) throw new InputError(problems);
  await sql.transaction(async (tx) => {
    if (tier !== undefined) {
      const known = await tx.query<{ name: string }>('select name from tiers order by position');
      if (!known.some((t) => t.name === tier)) {
        throw new InputError([
          {
            path: 'tier',
            message: `unknown tier "${tier}" (known: ${known.map((t) => t.name).join(', ') || 'none; apply a policy first'})`,
          },
        ]);
      }
    }
    const rows = await tx.query(
      `update accounts set tier = coalesce($2, tier), status = coalesce($3, status), billing_anchor_day = coalesce($4::int, billing_anchor_day),
              billing_customer_id = case when $5::boolean then $6 else billing_customer_id end
        where id = $1 returning id`,
      [
        accountId,
        tier ?? null,
        status ?? null,
        billingAnchorDay ?? null,
        billingCustomerId !== undefined,
        billingCustomerId ?? null,
      ],
    );
    if (rows.length === 0)
      throw new InputError([{ path: 'accountId', message: `unknown account "${accountId}"` }]);
    await notifyChange(tx, { kind: 'account', id: accountId });
  });
}
