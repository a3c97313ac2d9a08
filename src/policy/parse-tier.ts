// Policy file → Tier: limits, monthly quota, credits, upgrade link and price.

import { parseLimits } from './parse-limits.js';
import { INT4_MAX, PRICE_BELOW, type PolicyChecks } from './policy-checks.js';
import type { Price, Quota, Tier } from './policy.js';

const TIER_KEYS = ['limits', 'quota', 'credits_per_request', 'upgrade_url', 'price'];
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
  return tier;
}

/** `unlimited` → null; `{ requests, period: month, overage? }` → Quota; undefined = a problem was recorded. */
function parseQuota(c: PolicyChecks, value: unknown, path: string): Quota | null | undefined {
  if (value === 'unlimited') return null;
  if (!(value instanceof Map)) return c.add(path, QUOTA_HINT);
  const map = c.map(value, path, ['requests', 'period', 'overage'])!;
  const units = map.has('requests')
    ? c.int(map.get('requests'), `${path}.requests`, 0)
    : c.add(`${path}.requests`, 'required');
  const period = map.has('period')
    ? c.oneOf(map.get('period'), `${path}.period`, ['month'])
    : c.add(`${path}.period`, 'required');
  const overage = map.has('overage')
    ? c.oneOf(map.get('overage'), `${path}.overage`, ['allow', 'deny'])
    : 'deny';
  if (units === undefined || period === undefined || overage === undefined) return undefined;
  return { units, overage: overage === 'allow' };
}

function parsePrice(c: PolicyChecks, value: unknown, path: string): Price | undefined {
  const map = c.map(value, path, ['monthly', 'overage_per_1000', 'currency']);
  if (!map) return undefined;
  const monthly = map.has('monthly')
    ? c.number(map.get('monthly'), `${path}.monthly`, PRICE_BELOW)
    : c.add(`${path}.monthly`, 'required');
  const overagePer1000 = map.has('overage_per_1000')
    ? c.number(map.get('overage_per_1000'), `${path}.overage_per_1000`, PRICE_BELOW)
    : 0;
  const raw = map.get('currency') ?? 'usd';
  const currency =
    typeof raw === 'string' && /^[a-z]{3}$/.test(raw)
      ? raw
      : c.add(`${path}.currency`, 'expected a 3-letter lower-case currency code like usd');
  if (monthly === undefined || overagePer1000 === undefined || currency === undefined) return undefined;
  return { monthly, overagePer1000, currency };
}
