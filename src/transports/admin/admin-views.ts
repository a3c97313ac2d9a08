// Admin API answers: domain views → snake_case JSON, and their JSON Schemas for openapi.json.

import type { AccountView, KeyView, LedgerEntry } from '../../accounts/account-queries.js';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function accountJson(account: AccountView): Record<string, unknown> {
  return {
    id: account.id,
    name: account.name,
    tier: account.tier,
    status: account.status,
    billing_anchor_day: account.billingAnchorDay,
    billing_customer_id: account.billingCustomerId,
    created_at: iso(account.createdAt),
  };
}

export function keyJson(key: KeyView, nowMs: number): Record<string, unknown> {
  const state = key.revokedAt
    ? 'revoked'
    : key.expiresAt && key.expiresAt.getTime() <= nowMs
      ? 'expired'
      : 'active';
  return {
    id: key.id,
    account_id: key.accountId,
    prefix: key.prefix,
    name: key.name,
    state,
    created_at: iso(key.createdAt),
    expires_at: iso(key.expiresAt),
    revoked_at: iso(key.revokedAt),
  };
}

export function ledgerJson(entry: LedgerEntry): Record<string, unknown> {
  return {
    id: entry.id,
    amount: entry.delta,
    reason: entry.reason,
    idempotency_key: entry.idempotencyKey,
    created_at: iso(entry.createdAt),
  };
}

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const int = { type: 'integer' } as const;

const object = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
});

export const ACCOUNT_SCHEMA = object({
  id: str,
  name: str,
  tier: str,
  status: { type: 'string', enum: ['active', 'suspended'] },
  billing_anchor_day: int,
  billing_customer_id: nullableStr,
  created_at: time,
});
export const KEY_SCHEMA = object({
  id: str,
  account_id: str,
  prefix: str,
  name: nullableStr,
  state: { type: 'string', enum: ['active', 'expired', 'revoked'] },
  created_at: time,
  expires_at: nullableTime,
  revoked_at: nullableTime,
});
export const NEW_KEY_SCHEMA = object({
  id: str,
  key: { type: 'string', description: 'The plaintext key: shown in this answer only, never again.' },
  prefix: str,
  account_id: str,
  name: nullableStr,
  expires_at: nullableTime,
});
export const LEDGER_SCHEMA = object({
  id: int,
  amount: int,
  reason: str,
  idempotency_key: nullableStr,
  created_at: time,
});
export const CREDIT_RESULT_SCHEMA = object({
  ledger_id: int,
  account_id: str,
  amount: int,
  idempotency_key: str,
  created_at: time,
  balance: {
    type: 'integer',
    description: 'The ledger balance right after this top-up (the same on a replay).',
  },
});
export const USAGE_ROW_SCHEMA = object({ endpoint: str, calls: int, units: int, credits: int });
export const PERIOD_SCHEMA = object({ start: time, end: time });
