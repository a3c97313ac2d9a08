// Admin API: accounts — open, read, change (tier, status, billing anchor, billing customer id). Each change audited.

import { findAccount, listAccountKeys, type AccountView } from '../../accounts/account-queries.js';
import { changeAccount, openAccount } from '../../accounts/account-changes.js';
import type { NewAccount } from '../../accounts/create-account.js';
import { creditBalance } from '../../accounts/credits.js';
import type { AccountPatch } from '../../accounts/update-account.js';
import type { Sql } from '../../db/sql.js';
import { notFound } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';
import { ACCOUNT_SCHEMA, accountJson, KEY_SCHEMA, keyJson } from './admin-views.js';

const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;
const TIER = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  description: 'A tier of the current policy.',
} as const;
const ANCHOR = {
  type: 'integer',
  minimum: 1,
  maximum: 31,
  description: 'Day of the month billing periods start (UTC); 1 = calendar months.',
} as const;

export async function requireAccountView(sql: Sql, id: string): Promise<AccountView> {
  const account = await findAccount(sql, id);
  if (!account) throw notFound('account', id);
  return account;
}

export function accountRoutes({ sql, now = Date.now }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: '/admin/accounts',
      summary: 'Open an account on a tier, with optional starting credits',
      body: {
        properties: {
          name: NAME,
          tier: TIER,
          billing_anchor_day: ANCHOR,
          credits: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
        required: ['name', 'tier'],
      },
      responses: { 201: { description: 'The new account', schema: ACCOUNT_SCHEMA } },
      async handle({ body, actor }) {
        const input: NewAccount = { name: body.name as string, tier: body.tier as string };
        if (body.billing_anchor_day !== undefined) input.billingAnchorDay = body.billing_anchor_day as number;
        if (body.credits !== undefined) input.credits = body.credits as number;
        const account = await sql.transaction(async (tx) => {
          const { id } = await openAccount(tx, actor, input);
          return requireAccountView(tx, id);
        });
        return {
          status: 201,
          json: accountJson(account),
          headers: ['location', `/admin/accounts/${account.id}`],
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}',
      summary: 'An account with its credit balance and keys (never key material)',
      responses: {
        200: {
          description: 'The account',
          schema: {
            ...ACCOUNT_SCHEMA,
            properties: {
              ...ACCOUNT_SCHEMA.properties,
              credit_balance: { type: 'integer' },
              keys: { type: 'array', items: KEY_SCHEMA },
            },
          },
        },
      },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        const [balance, keys] = await Promise.all([
          creditBalance(sql, account.id),
          listAccountKeys(sql, account.id),
        ]);
        return {
          status: 200,
          json: {
            ...accountJson(account),
            credit_balance: balance,
            keys: keys.map((k) => keyJson(k, now())),
          },
        };
      },
    },
    {
      method: 'PATCH',
      path: '/admin/accounts/{id}',
      summary: 'Change tier, status (suspend / re-activate), billing anchor day or billing customer id',
      body: {
        properties: {
          tier: TIER,
          status: { type: 'string', enum: ['active', 'suspended'] },
          billing_anchor_day: ANCHOR,
          billing_customer_id: {
            type: 'string',
            minLength: 1,
            maxLength: 200,
            nullable: true,
            description: 'The id in the billing system; null clears it.',
          },
        },
        minProperties: 1,
      },
      responses: { 200: { description: 'The account after the change', schema: ACCOUNT_SCHEMA } },
      async handle({ params, body, actor }) {
        const patch: AccountPatch = {};
        if (body.tier !== undefined) patch.tier = body.tier as string;
        if (body.status !== undefined) patch.status = body.status as AccountPatch['status'];
        if (body.billing_anchor_day !== undefined) patch.billingAnchorDay = body.billing_anchor_day as number;
        if (body.billing_customer_id !== undefined)
          patch.billingCustomerId = body.billing_customer_id as string | null;
        const account = await sql.transaction(async (tx) => {
          await requireAccountView(tx, params.id!);
          await changeAccount(tx, actor, params.id!, patch);
          return requireAccountView(tx, params.id!);
        });
        return { status: 200, json: accountJson(account) };
      },
    },
  ];
}
