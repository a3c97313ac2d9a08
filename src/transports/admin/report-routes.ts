// Admin API: reads for support and billing — monthly usage, the billing summary, live counters, the audit trail.

import { readAudit } from '../../accounts/audit-log.js';
import { billingMonth, MONTH_PATTERN } from '../../billing/billing-month.js';
import { billingSummary, type BillingSummary } from '../../billing/billing-summary.js';
import { readUsage, usageTotals } from '../../billing/usage-report.js';
import { loadPolicy } from '../../policy/policy-repository.js';
import { requireAccountView } from './account-routes.js';
import { HttpError } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';
import type { ObjectSchema } from './body-schema.js';
import { PERIOD_SCHEMA, USAGE_ROW_SCHEMA } from './admin-views.js';

const MONTH_QUERY: ObjectSchema = {
  properties: {
    month: {
      type: 'string',
      pattern: MONTH_PATTERN,
      description: 'YYYY-MM: the billing period that starts in this month (default: the current one).',
    },
  },
};
const TOTALS_SCHEMA = {
  type: 'object',
  properties: { calls: { type: 'integer' }, units: { type: 'integer' }, credits: { type: 'integer' } },
};
const money = { type: ['number', 'null'] };

export function reportRoutes({ sql, inspector, now = Date.now }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/accounts/{id}/usage',
      summary: 'Flushed usage of one billing period, by endpoint: calls, quota units, credits',
      query: MONTH_QUERY,
      responses: {
        200: {
          description: 'Usage by endpoint',
          schema: {
            type: 'object',
            properties: {
              account_id: { type: 'string' },
              month: { type: 'string' },
              period: PERIOD_SCHEMA,
              endpoints: { type: 'array', items: USAGE_ROW_SCHEMA },
              totals: TOTALS_SCHEMA,
            },
          },
        },
      },
      async handle({ params, query }) {
        const account = await requireAccountView(sql, params.id!);
        const range = billingMonth(query.month, account.billingAnchorDay, now());
        const endpoints = await readUsage(sql, account.id, range.fromMs, range.toMs);
        const period = {
          start: new Date(range.period.startMs).toISOString(),
          end: new Date(range.period.endMs).toISOString(),
        };
        return {
          status: 200,
          json: {
            account_id: account.id,
            month: range.month,
            period,
            endpoints,
            totals: usageTotals(endpoints),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}/billing',
      summary:
        'Billing summary of one period: plan price, included quota, units used, overage (pro rata, to the cent), credits spent',
      query: MONTH_QUERY,
      responses: {
        200: {
          description: 'The summary (amounts in the tier currency; null when the tier has no price)',
          schema: {
            type: 'object',
            properties: {
              account_id: { type: 'string' },
              month: { type: 'string' },
              period: PERIOD_SCHEMA,
              tier: { type: 'string' },
              currency: { type: ['string', 'null'] },
              plan_price: money,
              plan_price_basis: {
                enum: ['period', 'first_month_full', 'first_month_prorated', 'before_account'],
                description:
                  'the whole period, the first one (price.first_month), or one before the account existed',
              },
              billed_days: { type: 'integer' },
              period_days: { type: 'integer' },
              included_units: { type: ['integer', 'null'] },
              calls: { type: 'integer' },
              units_used: { type: 'integer' },
              overage_units: { type: 'integer' },
              overage_per_1000: money,
              overage_amount: money,
              credits_spent: { type: 'integer' },
              total: money,
              endpoints: { type: 'array', items: USAGE_ROW_SCHEMA },
            },
          },
        },
      },
      async handle({ params, query }) {
        const account = await requireAccountView(sql, params.id!);
        const policy = await loadPolicy(sql);
        return {
          status: 200,
          json: billingJson(
            await billingSummary(sql, account, policy.tiers[account.tier], query.month, now()),
          ),
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}/counters',
      summary:
        "The account's live counters (Redis keys {a:ID}:*, or the in-process store under the same names) with values and PTTL",
      responses: {
        200: {
          description: 'Counters, sorted by key',
          schema: {
            type: 'object',
            properties: {
              account_id: { type: 'string' },
              counters: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    key: { type: 'string' },
                    type: { type: 'string' },
                    value: {},
                    pttl_ms: { type: ['integer', 'null'] },
                  },
                },
              },
            },
          },
        },
        501: { description: 'This server was started without a counter inspector' },
      },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        if (!inspector)
          throw new HttpError(
            501,
            'not_implemented',
            'Not implemented',
            'this server has no counter inspector',
          );
        const counters = await inspector.inspect(account.id);
        return {
          status: 200,
          json: {
            account_id: account.id,
            counters: counters.map((c) => ({ key: c.key, type: c.type, value: c.value, pttl_ms: c.pttlMs })),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/audit',
      summary:
        'The latest 100 audit rows, newest first, optionally for one target (account id, key id, or policy)',
      query: { properties: { target: { type: 'string', minLength: 1, maxLength: 200 } } },
      responses: {
        200: {
          description: 'Audit rows',
          schema: { type: 'object', properties: { entries: { type: 'array', items: { type: 'object' } } } },
        },
      },
      async handle({ query }) {
        const rows = await readAudit(sql, query.target);
        return {
          status: 200,
          json: {
            entries: rows.map((r) => ({
              id: r.id,
              at: r.at.toISOString(),
              actor: r.actor,
              action: r.action,
              target: r.target,
              details: r.details,
            })),
          },
        };
      },
    },
  ];
}

function billingJson(s: BillingSummary): Record<string, unknown> {
  return {
    account_id: s.accountId,
    month: s.month,
    period: { start: s.period.start.toISOString(), end: s.period.end.toISOString() },
    tier: s.tier,
    currency: s.currency,
    plan_price: s.planPrice,
    plan_price_basis: s.planPriceBasis,
    billed_days: s.billedDays,
    period_days: s.periodDays,
    included_units: s.includedUnits,
    calls: s.calls,
    units_used: s.unitsUsed,
    overage_units: s.overageUnits,
    overage_per_1000: s.overagePer1000,
    overage_amount: s.overageAmount,
    credits_spent: s.creditsSpent,
    total: s.total,
    endpoints: s.endpoints,
  };
}
