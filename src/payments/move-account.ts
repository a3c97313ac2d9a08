// Payments → accounts: the one way a Stripe event or the grace check changes a tier or status — through
// changeAccount (audited, NOTIFY to every replica at commit), plus a `tier.changed` outbox row.

import { findAccount } from '../accounts/account-queries.js';
import { changeAccount, type Actor } from '../accounts/account-changes.js';
import type { AccountPatch } from '../accounts/update-account.js';
import type { Sql } from '../db/sql.js';

/** The payload of a `tier.changed` outbox row (JSON). */
export interface TierChangedPayload {
  from: string;
  to: string;
  /** The actor: `stripe:<event id>` or `billing:grace`. */
  cause: string;
  at: string;
}

/** `tx` must be the caller's transaction; returns the changed fields' names (empty: nothing changed). */
export async function moveAccount(
  tx: Sql,
  actor: Actor,
  accountId: string,
  patch: Pick<AccountPatch, 'tier' | 'status'>,
  nowMs: number,
): Promise<string[]> {
  const before = await findAccount(tx, accountId);
  if (!before) return [];
  await changeAccount(tx, actor, accountId, patch);
  const changed: string[] = [];
  if (patch.status !== undefined && patch.status !== before.status) changed.push('status');
  if (patch.tier !== undefined && patch.tier !== before.tier) {
    changed.push('tier');
    const payload: TierChangedPayload = {
      from: before.tier,
      to: patch.tier,
      cause: actor,
      at: new Date(nowMs).toISOString(),
    };
    await tx.query(
      "insert into outbox (kind, account_id, payload) values ('tier.changed', $1, $2::text::jsonb)",
      [accountId, JSON.stringify(payload)],
    );
  }
  return changed;
}
