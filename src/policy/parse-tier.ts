// Policy file → Tier: limits, monthly quota, credits, upgrade link and price.

import { parseLimits } from './parse-limits.js';
import { INT4_MAX, PRICE_BELOW, type PolicyChecks } from './policy-checks.js';
import { parseTierBilling, TIER_BILLING_KEYS } from './parse-tier-billing.js';
import type { Price, Quota, Tier } from './policy.js';

export const TIER_KEYS = [
  'limits',
  'quota',
  'credits_per_request',
  'upgrade_url',
  'price',
  ...TIER_BILLING_KEYS,
];
export const QUOTA_KEYS = ['requests', 'period', 'overage'];
export const QUOTA_PERIODS = ['month'] as const;
export const OVERAGE_MODES = ['allow', 'deny'] as const;
export const PRICE_KEYS = ['monthly', 'overage_per_1000', 'currency', 'first_month'];
export const FIRST_MONTH_MODES = ['full', 'prorated'] as const;
export const CURRENCY_PATTERN = '^[a-z]{3}$';
const QUOTA_HINT = 'expected unlimited or { requests, period: month, overage: allow|deny }';

export function parseTier(c: PolicyChecks, name: string, value: unknown, path: string): Tier | undefined {
  const map = c.map(value, path, TIER_KEYS);
  if (!map) return undefined;
  const limits = parseLimits(c, map.get('limits'), `${path}.limits`, new Map());
  const quota = map.has('quota')
    ? parseQuota(c, map.get('quota'), `${path}.quota`)
    : c.add(`${path}.quota`, `required: ${QUOTA_HINT}`);
  const credits = map.has('credits_per_request')
    ? c.int(map.get('credits_per_request'), `${path}.credits_per_request`, 0, INT4_MAX)
    : 0;
  const upgradeUrl = map.has('upgrade_url')
    ? c.url(map.get('upgrade_url'), `${path}.upgrade_url`)
    : undefined;
  const price = map.has('price') ? parsePrice(c, map.get('price'), `${path}.price`) : undefined;
  if (quota === undefined || credits === undefined) return undefined;
  const tier: Tier = { name, limits, quota, creditsPerRequest: credits };
  if (upgradeUrl !== undefined) tier.upgradeUrl = upgradeUrl;
  if (price !== undefined) tier.price = price;
  parseTierBilling(c, map, path, tier);
  return tier;
}

/** `unlimited` → null; `{ requests, period: month, overage? }` → Quota; undefined = a problem was recorded. */
function parseQuota(c: PolicyChecks, value: unknown, path: string): Quota | null | undefined {
  if (value === 'unlimited') return null;
  if (!(value instanceof Map)) return c.add(path, QUOTA_HINT);
  const map = c.map(value, path, QUOTA_KEYS)!;
  const units = map.has('requests')
    ? c.int(map.get('requests'), `${path}.requests`, 0)
    : c.add(`${path}.requests`, 'required');
  const period = map.has('period')
    ? c.oneOf(map.get('period'), `${path}.period`, QUOTA_PERIODS)
    : c.add(`${path}.period`, 'required');
  const overage = map.has('overage') ? c.oneOf(map.get('overage'), `${path}.overage`, OVERAGE_MODES) : 'deny';
  if (units === undefined || period === undefined || overage === undefined) return undefined;
  return { units, overage: overage === 'allow' };
}

function parsePrice(c: PolicyChecks, value: unknown, path: string): Price | undefined {
  const map = c.map(value, path, PRICE_KEYS);
  if (!map) return undefined;
  const monthly = map.has('monthly')
    ? c.number(map.get('monthly'), `${path}.monthly`, PRICE_BELOW)
    : c.add(`${path}.monthly`, 'required');
  const overagePer1000 = map.has('overage_per_1000')
    ? c.number(map.get('overage_per_1000'), `${path}.overage_per_1000`, PRICE_BELOW)
    : 0;
  const raw = map.get('currency') ?? 'usd';
  const currency =
    typeof raw === 'string' && new RegExp(CURRENCY_PATTERN).test(raw)
      ? raw
      : c.add(`${path}.currency`, 'expected a 3-letter lower-case currency code like usd');
  const firstMonth = map.has('first_month')
    ? c.oneOf(map.get('first_month'), `${path}.first_month`, FIRST_MONTH_MODES)
    : 'full';
  if (monthly === undefined || overagePer1000 === undefined || currency === undefined) return undefined;
  if (firstMonth === undefined) return undefined;
  return { monthly, overagePer1000, currency, firstMonth };
}
