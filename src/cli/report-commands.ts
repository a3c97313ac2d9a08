// `tollgate accounts show|usage|billing`: support and billing reads straight from the database.

import { creditLedger, findAccount, listAccountKeys } from '../accounts/account-queries.js';
import { creditBalance } from '../accounts/credits.js';
import { billingMonth } from '../billing/billing-month.js';
import { billingSummary } from '../billing/billing-summary.js';
import { readUsage, usageTotals } from '../billing/usage-report.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { loadPolicy } from '../policy/policy-repository.js';
import { requireString } from './flags.js';
import { print, type CommandContext } from './output.js';

async function requireAccount(sql: Sql, id: string) {
  const account = await findAccount(sql, id);
  if (!account) throw new InputError([{ path: '--account', message: `unknown account "${id}"` }]);
  return account;
}

function optionalMonth(values: Record<string, unknown>): string | undefined {
  return typeof values.month === 'string' ? values.month : undefined;
}

/** `tollgate accounts show <account-id>` */
export async function showAccountCommand(ctx: CommandContext): Promise<void> {
  const { sql } = ctx;
  const id = ctx.positionals[0];
  if (!id)
    throw new InputError([
      { path: 'account-id', message: 'name the account: tollgate accounts show <account-id>' },
    ]);
  const account = await requireAccount(sql, id);
  const [balance, keys, ledger] = await Promise.all([
    creditBalance(sql, id),
    listAccountKeys(sql, id),
    creditLedger(sql, id, 10),
  ]);
  const now = Date.now();
  const keyState = (k: (typeof keys)[number]) =>
    k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt.getTime() <= now ? 'expired' : 'active';
  const human = [
    `${account.id}  ${account.name}`,
    `  tier ${account.tier}, ${account.status}, billing anchor day ${account.billingAnchorDay}${account.billingCustomerId ? `, billing customer ${account.billingCustomerId}` : ''}`,
    `  credits ${balance}`,
    ...keys.map(
      (k) =>
        `  key ${k.id} ${k.prefix}… ${keyState(k)}${k.name ? ` (${k.name})` : ''}${k.expiresAt ? ` expires ${k.expiresAt.toISOString()}` : ''}`,
    ),
  ];
  print(
    ctx,
    { ...account, creditBalance: balance, keys: keys.map((k) => ({ ...k, state: keyState(k) })), ledger },
    human.join('\n'),
  );
}

/** `tollgate usage --account ID [--month 2026-11]` */
export async function usageCommand(ctx: CommandContext): Promise<void> {
  const { sql, values } = ctx;
  const account = await requireAccount(sql, requireString(values, 'account'));
  const range = billingMonth(optionalMonth(values), account.billingAnchorDay, Date.now(), '--month');
  const endpoints = await readUsage(sql, account.id, range.fromMs, range.toMs);
  const totals = usageTotals(endpoints);
  const period = `${new Date(range.period.startMs).toISOString().slice(0, 10)} – ${new Date(range.period.endMs).toISOString().slice(0, 10)}`;
  const human = [
    `usage of ${account.id} for ${range.month} (${period}):`,
    ...endpoints.map(
      (e) =>
        `  ${e.endpoint.padEnd(24)} ${String(e.calls).padStart(10)} calls ${String(e.units).padStart(10)} units ${String(e.credits).padStart(10)} credits`,
    ),
    `  ${'total'.padEnd(24)} ${String(totals.calls).padStart(10)} calls ${String(totals.units).padStart(10)} units ${String(totals.credits).padStart(10)} credits`,
  ];
  print(
    ctx,
    {
      accountId: account.id,
      month: range.month,
      period: { start: new Date(range.period.startMs), end: new Date(range.period.endMs) },
      endpoints,
      totals,
    },
    human.join('\n'),
  );
}

/** `tollgate billing --account ID [--month 2026-11]` */
export async function billingCommand(ctx: CommandContext): Promise<void> {
  const { sql, values } = ctx;
  const account = await requireAccount(sql, requireString(values, 'account'));
  const policy = await loadPolicy(sql);
  const month = optionalMonth(values);
  if (month !== undefined) billingMonth(month, account.billingAnchorDay, Date.now(), '--month');
  const s = await billingSummary(sql, account, policy.tiers[account.tier], month);
  const money = (n: number | null) => (n === null ? '—' : `${n.toFixed(2)} ${s.currency ?? ''}`.trim());
  const human = [
    `billing of ${s.accountId} for ${s.month} (${s.period.start.toISOString().slice(0, 10)} – ${s.period.end.toISOString().slice(0, 10)}), tier ${s.tier}:`,
    `  plan price      ${money(s.planPrice)}${basis(s)}`,
    `  included units  ${s.includedUnits ?? 'unlimited'}`,
    `  units used      ${s.unitsUsed} (${s.calls} calls)`,
    `  overage         ${s.overageUnits} units × ${s.overagePer1000 ?? '—'} per 1000 = ${money(s.overageAmount)}`,
    `  credits spent   ${s.creditsSpent}`,
    `  total           ${money(s.total)}`,
  ];
  print(ctx, s, human.join('\n'));
}

/** Says why the plan price is not simply the monthly price: billing starts with the account. */
function basis(s: Awaited<ReturnType<typeof billingSummary>>): string {
  if (s.planPriceBasis === 'before_account') return ' (the account did not exist yet in this period)';
  if (s.planPriceBasis === 'first_month_full')
    return ' (first month, billed in full: price.first_month full)';
  if (s.planPriceBasis === 'first_month_prorated')
    return ` (first month, prorated: ${s.billedDays} of ${s.periodDays} days)`;
  return '';
}
