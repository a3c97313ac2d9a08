// Admin API: the reads the console is built on (also scriptable) — account search, usage per day, replica status, policy dry run.

import { LineCounter, parseDocument } from 'yaml';
import { dailyUsage, searchAccounts } from '../../accounts/search-accounts.js';
import { billingPeriod } from '../../billing/billing-period.js';
import { denialsByReason } from '../../usage/denial-tally.js';
import { InputError } from '../../errors.js';
import { parsePolicy } from '../../policy/policy-file.js';
import { loadPolicy } from '../../policy/policy-repository.js';
import { requireAccountView } from './account-routes.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';
import { POLICY_MAX_BYTES } from './policy-routes.js';

const DAY_MS = 86_400_000;

export function consoleRoutes({ sql, replicaStatus, now = Date.now }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/accounts',
      operationId: 'searchAccounts',
      summary:
        'Search accounts by id, name, key prefix or billing customer id: tier, status, usage vs quota, credits',
      query: {
        properties: {
          q: { type: 'string', maxLength: 200, description: 'Empty or absent: the newest accounts.' },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$', description: '1–999, default 50.' },
        },
      },
      responses: { 200: { description: 'Matching accounts, newest first', schema: { type: 'object' } } },
      async handle({ query }) {
        const [hits, policy] = await Promise.all([
          searchAccounts(sql, (query.q ?? '').trim(), Number(query.limit ?? 50)),
          loadPolicy(sql),
        ]);
        const accounts = hits.map((hit) => {
          const period = billingPeriod(now(), hit.billingAnchorDay);
          const current = hit.latestPeriodStart?.getTime() === period.startMs;
          return {
            id: hit.id,
            name: hit.name,
            tier: hit.tier,
            status: hit.status,
            billing_customer_id: hit.billingCustomerId,
            credit_balance: hit.creditBalance,
            units_this_period: current ? hit.latestPeriodUnits : 0,
            quota: policy.tiers[hit.tier]?.quota?.units ?? null,
            last_call_at: hit.lastCallAt?.toISOString() ?? null,
          };
        });
        return { status: 200, json: { accounts } };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}/usage/daily',
      summary: 'Flushed usage per UTC day and endpoint, for the current and the previous billing period',
      responses: { 200: { description: 'Periods, quota and daily rows', schema: { type: 'object' } } },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        const current = billingPeriod(now(), account.billingAnchorDay);
        const previous = billingPeriod(current.startMs - DAY_MS, account.billingAnchorDay);
        const policy = await loadPolicy(sql);
        const iso = (ms: number) => new Date(ms).toISOString();
        return {
          status: 200,
          json: {
            account_id: account.id,
            quota: policy.tiers[account.tier]?.quota?.units ?? null,
            current: { start: iso(current.startMs), end: iso(current.endMs) },
            previous: { start: iso(previous.startMs), end: iso(previous.endMs) },
            days: await dailyUsage(sql, account.id, previous.startMs, current.endMs),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/accounts/{id}/denials',
      summary: 'Denials of the last 24 h by reason (counted in memory by each replica, flushed with usage)',
      responses: {
        200: { description: '{account_id, since, reasons[{reason, count}]}', schema: { type: 'object' } },
      },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        const since = now() - DAY_MS;
        const reasons = await denialsByReason(sql, account.id, since);
        return {
          status: 200,
          json: { account_id: account.id, since: new Date(since).toISOString(), reasons },
        };
      },
    },
    {
      method: 'GET',
      path: '/admin/replica',
      summary: "This replica's own state: degraded (Redis unreachable) and usage flush lag",
      responses: { 200: { description: 'Replica status', schema: { type: 'object' } } },
      handle: async () => ({ status: 200, json: replicaStatus?.() ?? { known: false } }),
    },
    {
      method: 'POST',
      path: '/admin/policy/validate',
      summary:
        'Dry run of PUT /admin/policy: the same validator; errors with path and line; nothing is saved',
      rawBody: {
        contentTypes: ['application/yaml', 'application/json'],
        maxBytes: POLICY_MAX_BYTES,
        description: 'The policy file as for PUT /admin/policy.',
      },
      responses: {
        200: { description: '{valid, errors[{path, line, message}]}', schema: { type: 'object' } },
      },
      async handle({ text }) {
        try {
          parsePolicy(text);
          return { status: 200, json: { valid: true, errors: [] } };
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          const errors = err.problems.map((p) => ({ ...p, line: lineOf(text, p.path) }));
          return { status: 200, json: { valid: false, errors } };
        }
      },
    },
  ];
}

/** The 1-based line of a policy path (`tiers.free.limits[0].window`), or of its nearest existing parent. */
export function lineOf(text: string, path: string): number | null {
  const at = /^line (\d+)/.exec(path);
  if (at) return Number(at[1]);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const segments = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s !== '' && s !== 'policy')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  for (let n = segments.length; n > 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return counter.linePos(node.range[0]).line;
  }
  return null;
}
