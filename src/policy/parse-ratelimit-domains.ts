// Policy file section `ratelimit_domains` → RatelimitDomains; every problem recorded with its path.

import { ALGORITHMS, type PolicyChecks } from './policy-checks.js';
import {
  isRlsText,
  RLS_COUNTING,
  RLS_RESPONSE_HEADERS,
  RLS_TEXT_RULE,
  type DescriptorLimit,
  type DescriptorRateLimit,
  type DescriptorRule,
  type RatelimitDomain,
  type RatelimitDomains,
} from './ratelimit-rules.js';

export const DOMAIN_KEYS = ['descriptors', 'counting', 'response_headers'];
export const DESCRIPTOR_KEYS = [
  'key',
  'value',
  'rate_limit',
  'shadow',
  'share_threshold',
  'quota_mode',
  'descriptors',
];
export const RATE_LIMIT_KEYS = ['name', 'unlimited', 'algorithm', 'limit', 'window', 'burst', 'replaces'];
/**
 * The JSON Schema's form of isRlsText (ratelimit-rules.ts): no control characters. The 256-byte bound
 * is on UTF-8 bytes, which a schema cannot count; 256 characters is the closest it can say.
 */
export const TEXT_PATTERN = '^[^\\x00-\\x1f\\x7f]{1,256}$';

export function parseRatelimitDomains(c: PolicyChecks, value: unknown, path: string): RatelimitDomains {
  const domains: RatelimitDomains = {};
  for (const [name, raw] of c.map(value, path) ?? []) {
    const at = `${path}.${name}`;
    if (!isRlsText(name)) c.add(at, `expected a domain name of ${RLS_TEXT_RULE}`);
    const map = c.map(raw, at, DOMAIN_KEYS);
    if (!map) continue;
    const descriptors = map.has('descriptors')
      ? parseDescriptors(c, map.get('descriptors'), `${at}.descriptors`)
      : c.add(`${at}.descriptors`, 'required');
    if (!descriptors) continue;
    const domain: RatelimitDomain = { descriptors };
    if (map.has('counting')) {
      const counting = c.oneOf(map.get('counting'), `${at}.counting`, RLS_COUNTING);
      if (counting) domain.counting = counting;
      if (counting === 'envoy') checkEnvoyCounting(c, descriptors, `${at}.descriptors`);
    }
    if (map.has('response_headers')) {
      const headers = c.oneOf(map.get('response_headers'), `${at}.response_headers`, RLS_RESPONSE_HEADERS);
      if (headers) domain.responseHeaders = headers;
    }
    domains[name] = domain;
  }
  return domains;
}

/** envoyproxy/ratelimit's counting knows fixed windows of whole seconds only. */
function checkEnvoyCounting(c: PolicyChecks, rules: DescriptorRule[], path: string): void {
  rules.forEach((rule, i) => {
    const limit = rule.rateLimit?.limit;
    if (limit && (limit.algorithm !== 'fixed_window' || limit.windowMs % 1000 !== 0))
      c.add(
        `${path}[${i}].rate_limit`,
        'counting: envoy counts fixed_window limits with whole-second windows only (use counting: tollgate)',
      );
    checkEnvoyCounting(c, rule.descriptors, `${path}[${i}].descriptors`);
  });
}

function parseDescriptors(c: PolicyChecks, value: unknown, path: string): DescriptorRule[] {
  const rules: DescriptorRule[] = [];
  const seen = new Map<string, string>();
  (c.list(value, path) ?? []).forEach((item, i) => {
    const at = `${path}[${i}]`;
    const rule = parseDescriptor(c, item, at);
    if (!rule) return;
    const id = `${rule.key}=${rule.value ?? ''}`;
    if (seen.has(id))
      c.add(
        at,
        `key ${rule.key}${rule.value === undefined ? '' : ` with value ${rule.value}`} is already used at ${seen.get(id)}`,
      );
    seen.set(id, at);
    rules.push(rule);
  });
  return rules;
}

function parseDescriptor(c: PolicyChecks, item: unknown, at: string): DescriptorRule | undefined {
  const map = c.map(item, at, DESCRIPTOR_KEYS);
  if (!map) return undefined;
  const key = map.has('key') ? text(c, map.get('key'), `${at}.key`) : c.add(`${at}.key`, 'required');
  const value = map.has('value')
    ? text(
        c,
        typeof map.get('value') === 'number' ? String(map.get('value')) : map.get('value'),
        `${at}.value`,
      )
    : undefined;
  const rateLimit = map.has('rate_limit')
    ? parseRateLimit(c, map.get('rate_limit'), `${at}.rate_limit`)
    : undefined;
  const shadow = map.has('shadow') ? c.bool(map.get('shadow'), `${at}.shadow`) : false;
  const shareThreshold = map.has('share_threshold')
    ? c.bool(map.get('share_threshold'), `${at}.share_threshold`)
    : false;
  const quotaMode = map.has('quota_mode') ? c.bool(map.get('quota_mode'), `${at}.quota_mode`) : false;
  if (shareThreshold && !value?.includes('*'))
    c.add(`${at}.share_threshold`, 'only allowed with a wildcard value (containing *)');
  const descriptors = map.has('descriptors')
    ? parseDescriptors(c, map.get('descriptors'), `${at}.descriptors`)
    : [];
  if (key === undefined || (map.has('value') && value === undefined) || (map.has('rate_limit') && !rateLimit))
    return undefined;
  if (shadow === undefined || shareThreshold === undefined || quotaMode === undefined) return undefined;
  const rule: DescriptorRule = { key, shadow, shareThreshold, descriptors };
  if (quotaMode) rule.quotaMode = true;
  if (value !== undefined) rule.value = value;
  if (rateLimit) rule.rateLimit = rateLimit;
  return rule;
}

function parseRateLimit(c: PolicyChecks, value: unknown, at: string): DescriptorRateLimit | undefined {
  const map = c.map(value, at, RATE_LIMIT_KEYS);
  if (!map) return undefined;
  const name = map.has('name') ? text(c, map.get('name'), `${at}.name`) : undefined;
  const replaces = map.has('replaces') ? parseReplaces(c, map.get('replaces'), `${at}.replaces`, name) : [];
  const unlimited = map.has('unlimited') ? c.bool(map.get('unlimited'), `${at}.unlimited`) : false;
  let limit: DescriptorLimit | null | undefined = null;
  if (unlimited) {
    for (const k of ['algorithm', 'limit', 'window', 'burst'])
      if (map.has(k)) c.add(`${at}.${k}`, 'not allowed with unlimited: true');
  } else if (unlimited === false) {
    limit = parseLimit(c, map, at);
  }
  if ((map.has('name') && name === undefined) || !replaces || unlimited === undefined || limit === undefined)
    return undefined;
  const rateLimit: DescriptorRateLimit = { replaces, limit };
  if (name !== undefined) rateLimit.name = name;
  return rateLimit;
}

function parseLimit(c: PolicyChecks, map: Map<string, unknown>, at: string): DescriptorLimit | undefined {
  const algorithm = map.has('algorithm')
    ? c.oneOf(map.get('algorithm'), `${at}.algorithm`, ALGORITHMS)
    : c.add(`${at}.algorithm`, 'required');
  const min = algorithm === 'token_bucket' ? 1 : 0;
  const limit = map.has('limit')
    ? c.int(map.get('limit'), `${at}.limit`, min)
    : c.add(`${at}.limit`, 'required');
  const windowMs = map.has('window')
    ? c.duration(map.get('window'), `${at}.window`)
    : c.add(`${at}.window`, 'required');
  let burst: number | undefined;
  if (map.has('burst')) {
    if (algorithm === 'token_bucket') burst = c.int(map.get('burst'), `${at}.burst`, 1);
    else if (algorithm !== undefined) c.add(`${at}.burst`, 'only allowed with algorithm token_bucket');
  }
  if (
    algorithm === undefined ||
    limit === undefined ||
    windowMs === undefined ||
    (map.has('burst') && burst === undefined)
  )
    return undefined;
  const out: DescriptorLimit = { algorithm, limit, windowMs };
  if (burst !== undefined) out.burst = burst;
  return out;
}

function parseReplaces(
  c: PolicyChecks,
  value: unknown,
  at: string,
  own: string | undefined,
): string[] | undefined {
  const items = c.list(value, at);
  if (!items) return undefined;
  const names: string[] = [];
  items.forEach((item, i) => {
    const name = text(c, item, `${at}[${i}]`);
    if (name !== undefined && name === own) c.add(`${at}[${i}]`, 'a rule cannot replace itself');
    else if (name !== undefined) names.push(name);
  });
  return names.length === items.length ? names : undefined;
}

function text(c: PolicyChecks, value: unknown, path: string): string | undefined {
  if (typeof value === 'string' && isRlsText(value)) return value;
  return c.add(path, `expected a string of ${RLS_TEXT_RULE}`);
}
