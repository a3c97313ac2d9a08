// Admin API: credits — idempotent top-ups and corrections (one ledger row each; addCredits notifies the
// replicas, which apply the row to the live balance), balance and ledger.

import { creditEntryByKey, creditLedger } from '../../accounts/account-queries.js';
import { addCreditsAudited } from '../../accounts/account-changes.js';
import { creditBalance } from '../../accounts/credits.js';
import { InputError } from '../../errors.js';
import { requireAccountView } from './account-routes.js';
import { HttpError } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';
import { CREDIT_RESULT_SCHEMA, LEDGER_SCHEMA, ledgerJson } from './admin-views.js';

export function creditRoutes({ sql }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: '/admin/accounts/{id}/credits',
      summary:
        'Add credits (negative = correction). A replay with the same idempotency_key changes nothing and answers the same body',
      body: {
        properties: {
          amount: {
            type: 'integer',
            minimum: -Number.MAX_SAFE_INTEGER,
            maximum: Number.MAX_SAFE_INTEGER,
            not: { const: 0 },
            description: 'Credits; not 0.',
          },
          idempotency_key: {
            type: 'string',
            minLength: 1,
            maxLength: 200,
            description: 'The same key applies at most once (across accounts).',
          },
        },
        required: ['amount', 'idempotency_key'],
      },
      responses: {
        200: {
          description: 'The ledger row of this top-up (header idempotent-replayed: true on a replay)',
          schema: CREDIT_RESULT_SCHEMA,
        },
      },
      async handle({ params, body, actor }) {
        const amount = body.amount as number;
        const key = body.idempotency_key as string;
        const { applied, entry } = await sql.transaction(async (tx) => {
          await requireAccountView(tx, params.id!);
          let result: Awaited<ReturnType<typeof addCreditsAudited>>;
          try {
            result = await addCreditsAudited(tx, actor, params.id!, amount, key);
          } catch (err) {
            if (err instanceof InputError && err.problems.some((p) => p.path === 'idempotencyKey')) {
              throw new HttpError(
                409,
                'idempotency_key_reused',
                'Idempotency key reused',
                'idempotency_key was already used for a different account or amount',
              );
            }
            throw err;
          }
          const found = (await creditEntryByKey(tx, key))!;
          return { applied: result.applied, entry: found };
        });
        const json = {
          ledger_id: entry.entry.id,
          account_id: entry.entry.accountId,
          amount: entry.entry.delta,
          idempotency_key: key,
          created_at: entry.entry.createdAt.toISOString(),
          balance: entry.balanceAfter,
        };
        return { status: 200, json, headers: applied ? [] : ['idempotent-replayed', 'true'] };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}/credits',
      summary: 'The ledger balance and the latest 100 ledger rows, newest first',
      responses: {
        200: {
          description: 'Balance and ledger',
          schema: {
            type: 'object',
            properties: {
              account_id: { type: 'string' },
              balance: { type: 'integer' },
              ledger: { type: 'array', items: LEDGER_SCHEMA },
            },
            required: ['account_id', 'balance', 'ledger'],
          },
        },
      },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        const [balance, ledger] = await Promise.all([
          creditBalance(sql, account.id),
          creditLedger(sql, account.id),
        ]);
        return { status: 200, json: { account_id: account.id, balance, ledger: ledger.map(ledgerJson) } };
      },
    },
  ];
}
