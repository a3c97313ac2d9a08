// Public sign-up, database side: account on the sign-up tier + one key + the mailbox's HMAC + an audit row, in ONE transaction.

import { createKey, type CreatedKey } from '../accounts/api-keys.js';
import { writeAudit } from '../accounts/audit-log.js';
import { createAccount } from '../accounts/create-account.js';
import type { Sql } from '../db/sql.js';

export type SignupResult = { created: true; accountId: string; key: CreatedKey } | { created: false };

/**
 * `emailHash`: HMAC of the canonical mailbox (normalize-email.ts; never the address). created: false =
 * that mailbox already has an account (the signups primary key; nothing is written). `ip` (the client
 * address at sign-up) and `confirmIp` (at confirmation) go to the audit row only, for abuse investigations.
 */
export async function createSignup(
  sql: Sql,
  input: { emailHash: string; tier: string; ip: string; confirmIp?: string },
): Promise<SignupResult> {
  return sql
    .transaction(async (tx): Promise<SignupResult> => {
      const taken = await tx.query('select 1 from signups where email_hash = $1', [input.emailHash]);
      if (taken.length > 0) return { created: false };
      const { id } = await createAccount(tx, { name: 'self sign-up', tier: input.tier });
      const claimed = await tx.query(
        'insert into signups (email_hash, account_id) values ($1, $2) on conflict do nothing returning 1',
        [input.emailHash, id],
      );
      if (claimed.length === 0) throw new SignupRace();
      const key = await createKey(tx, { accountId: id, name: 'sign-up' });
      await writeAudit(tx, {
        actor: 'signup',
        action: 'account.signup',
        target: id,
        details: {
          tier: input.tier,
          key_id: key.id,
          ip: input.ip,
          ...(input.confirmIp === undefined ? {} : { confirm_ip: input.confirmIp }),
        },
      });
      return { created: true, accountId: id, key };
    })
    .catch((err: unknown): SignupResult => {
      // Two sign-ups of one mailbox at once: the loser's transaction rolled back whole.
      if (err instanceof SignupRace) return { created: false } satisfies SignupResult as SignupResult;
      throw err;
    });
}

class SignupRace extends Error {}
