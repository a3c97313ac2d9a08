// Support (CLI, admin API): suspend or re-activate an account; its keys answer 403 account_suspended while suspended.

import { notifyChange } from '../db/notify-change.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';

export type AccountStatus = 'active' | 'suspended';

export async function setAccountStatus(sql: Sql, accountId: string, status: AccountStatus): Promise<void> {
  if (status !== 'active' && status !== 'suspended')
    throw new InputError([{ path: 'status', message: 'expected active or suspended' }]);
  await sql.transaction(async (tx) => {
    const rows = await tx.query('update accounts set status = $2 where id = $1 returning id', [
      accountId,
      status,
    ]);
    if (rows.length === 0)
      throw new InputError([{ path: 'accountId', message: `unknown account "${accountId}"` }]);
    await notifyChange(tx, { kind: 'account', id: accountId });
  });
}
