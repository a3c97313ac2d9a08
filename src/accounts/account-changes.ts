// Support and billing changes with their audit row: one function per change, called by the admin API and
// the CLI alike, each writing the change and its audit_log row in one transaction.

import { findAccount, findKey } from './account-queries.js';
import { createKey, revokeKey, rotateKey, type CreatedKey, type NewKey } from './api-keys.js';
import { writeAudit } from './audit-log.js';
import { createAccount, type NewAccount } from './create-account.js';
import { addCredits, type CreditsResult } from './credits.js';
import { updateAccount, type AccountPatch } from './update-account.js';
import type { AccountView } from './account-queries.js';
import type { Sql } from '../db/sql.js';

/** Who made a change: `admin` or `admin:<name>` through the admin API, `cli` from the command line. */
export type Actor = string;

/** The actor recorded for changes made with the `tollgate` CLI. */
export const CLI_ACTOR: Actor = 'cli';

export async function openAccount(sql: Sql, actor: Actor, input: NewAccount): Promise<{ id: string }> {
  return sql.transaction(async (tx) => {
    const { id } = await createAccount(tx, input);
    await writeAudit(tx, {
      actor,
      action: 'account.create',
      target: id,
      details: {
        name: input.name,
        tier: input.tier,
        billing_anchor_day: input.billingAnchorDay ?? 1,
        credits: input.credits ?? 0,
      },
    });
    return { id };
  });
}

export async function issueKey(sql: Sql, actor: Actor, input: NewKey): Promise<CreatedKey> {
  return sql.transaction(async (tx) => {
    const key = await createKey(tx, input);
    await writeAudit(tx, {
      actor,
      action: 'key.create',
      target: key.id,
      details: {
        account_id: input.accountId,
        name: input.name ?? null,
        expires_at: input.expiresAt?.toISOString() ?? null,
      },
    });
    return key;
  });
}

/** The new key; the old one keeps working for `graceMs`. */
export async function rotateKeyAudited(
  sql: Sql,
  actor: Actor,
  keyId: string,
  graceMs: number,
): Promise<CreatedKey> {
  return sql.transaction(async (tx) => {
    const key = await rotateKey(tx, keyId, graceMs);
    const old = await findKey(tx, keyId);
    await writeAudit(tx, {
      actor,
      action: 'key.rotate',
      target: keyId,
      details: { account_id: old?.accountId ?? null, new_key_id: key.id, grace_seconds: graceMs / 1000 },
    });
    return key;
  });
}

/** Idempotent: revoking a revoked key changes nothing and writes no audit row. */
export async function revokeKeyAudited(sql: Sql, actor: Actor, keyId: string): Promise<void> {
  await sql.transaction(async (tx) => {
    const before = await findKey(tx, keyId);
    await revokeKey(tx, keyId);
    if (before && !before.revokedAt)
      await writeAudit(tx, {
        actor,
        action: 'key.revoke',
        target: keyId,
        details: { account_id: before.accountId },
      });
  });
}

/** The audit row lists each field that changed, by its admin API name, with its old and new value. */
export async function changeAccount(
  sql: Sql,
  actor: Actor,
  accountId: string,
  patch: AccountPatch,
): Promise<void> {
  await sql.transaction(async (tx) => {
    const before = await findAccount(tx, accountId);
    await updateAccount(tx, accountId, patch);
    const after = await findAccount(tx, accountId);
    const changes = before && after ? changedFields(before, after, patch) : {};
    if (Object.keys(changes).length > 0)
      await writeAudit(tx, { actor, action: 'account.update', target: accountId, details: { changes } });
  });
}

const PATCH_FIELDS = {
  tier: 'tier',
  status: 'status',
  billingAnchorDay: 'billing_anchor_day',
  billingCustomerId: 'billing_customer_id',
} as const satisfies Record<keyof AccountPatch, string>;

function changedFields(
  before: AccountView,
  after: AccountView,
  patch: AccountPatch,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of Object.keys(patch) as Array<keyof AccountPatch>) {
    if (before[field] !== after[field])
      changes[PATCH_FIELDS[field]] = { from: before[field], to: after[field] };
  }
  return changes;
}

/** A top-up or correction; a replayed idempotency key applies nothing and writes no audit row. */
export async function addCreditsAudited(
  sql: Sql,
  actor: Actor,
  accountId: string,
  amount: number,
  idempotencyKey?: string,
): Promise<CreditsResult> {
  return sql.transaction(async (tx) => {
    const result = await addCredits(tx, accountId, amount, idempotencyKey);
    if (result.applied)
      await writeAudit(tx, {
        actor,
        action: 'credits.add',
        target: accountId,
        details: { amount, idempotency_key: idempotencyKey ?? null, ledger_id: result.ledgerId },
      });
    return result;
  });
}
