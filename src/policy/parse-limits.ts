// Policy file → LimitRule[]: a tier's `limits` or an endpoint override's `limits`.

import { ALGORITHMS, INT4_MAX, type PolicyChecks } from './policy-checks.js';
import type { Algorithm, LimitRule } from './policy.js';

export const LIMIT_KEYS = ['name', 'algorithm', 'limit', 'window', 'burst', 'shadow', 'unit'];
/** The unit of a limit that counts calls (the default); any other name counts units. */
export const CALLS_UNIT = 'calls';
const DEFAULT_ALGORITHM: Algorithm = 'sliding_window';

/** `taken` maps names already used in this scope (e.g. the tier's limits) to why they are taken. */
export function parseLimits(
  c: PolicyChecks,
  value: unknown,
  path: string,
  taken: Map<string, string>,
): LimitRule[] {
  if (value === undefined) return [];
  const items = c.list(value, path) ?? [];
  const rules: LimitRule[] = [];
  const seen = new Map(taken);
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    const name = item instanceof Map ? item.get('name') : undefined;
    const clash = typeof name === 'string' ? seen.get(name) : undefined;
    if (clash) c.add(`${at}.name`, `"${String(name)}" is already ${clash}`);
    if (typeof name === 'string') seen.set(name, `used at ${at}`);
    const rule = parseLimit(c, item, at);
    if (rule) rules.push(rule);
  });
  return rules;
}

function parseLimit(c: PolicyChecks, item: unknown, at: string): LimitRule | undefined {
  const map = c.map(item, at, LIMIT_KEYS);
  if (!map) return undefined;
  const name = map.has('name') ? c.name(map.get('name'), `${at}.name`) : c.add(`${at}.name`, 'required');
  const algorithm = map.has('algorithm')
    ? c.oneOf(map.get('algorithm'), `${at}.algorithm`, ALGORITHMS)
    : DEFAULT_ALGORITHM;
  const limit = map.has('limit')
    ? c.int(map.get('limit'), `${at}.limit`, 1, INT4_MAX)
    : c.add(`${at}.limit`, 'required');
  const windowMs = map.has('window')
    ? c.duration(map.get('window'), `${at}.window`)
    : c.add(`${at}.window`, 'required');
  const shadow = map.has('shadow') ? c.bool(map.get('shadow'), `${at}.shadow`) : false;
  const unit = map.has('unit') ? c.name(map.get('unit'), `${at}.unit`) : CALLS_UNIT;
  let burst: number | undefined;
  if (map.has('burst')) {
    if (algorithm === 'token_bucket') burst = c.int(map.get('burst'), `${at}.burst`, 1, INT4_MAX);
    else if (algorithm !== undefined) c.add(`${at}.burst`, 'only allowed with algorithm token_bucket');
  }
  if (
    name === undefined ||
    algorithm === undefined ||
    limit === undefined ||
    windowMs === undefined ||
    shadow === undefined ||
    unit === undefined
  )
    return undefined;
  const rule: LimitRule = { name, algorithm, limit, windowMs, shadow };
  if (burst !== undefined) rule.burst = burst;
  if (unit !== CALLS_UNIT) rule.unit = unit;
  return rule;
}
