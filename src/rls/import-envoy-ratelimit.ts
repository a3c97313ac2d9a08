// `tollgate import-envoy-ratelimit`: envoyproxy/ratelimit config files → Tollgate `ratelimit_domains`
// rules that decide the same, plus one note per rule saying what it does. Never touches the database.

import { InputError } from '../errors.js';
import { formatDuration } from '../policy/policy-checks.js';
import { RATE_UNITS, UNIT_MS, type RateUnit } from './rate-units.js';
import {
  isRlsText,
  RLS_COUNTING,
  RLS_RESPONSE_HEADERS,
  RLS_TEXT_RULE,
  type DescriptorRule,
  type RatelimitDomain,
  type RatelimitDomains,
} from '../policy/ratelimit-rules.js';
import {
  ConfigProblem,
  readEnvoyConfig,
  type EnvoyConfig,
  type EnvoyDescriptor,
} from './read-envoy-config.js';

export interface EnvoyConfigFile {
  name: string;
  text: string;
}

export interface ImportedRatelimit {
  domains: RatelimitDomains;
  /** What each imported rule does, in file order. */
  notes: string[];
}

export interface ImportOptions {
  /** MERGE_DOMAIN_CONFIG: files of one domain add their top-level descriptors instead of "duplicate domain". */
  mergeDomains?: boolean;
}
const WINDOW_NOTES: Partial<Record<RateUnit, string>> = {
  week: '7-day windows from Thursday 00:00 UTC (the epoch was a Thursday)',
  month: "envoyproxy's month: 30-day windows counted from 1970-01-01, not calendar months",
  year: '365-day windows counted from 1970-01-01, not calendar years',
};

/**
 * Like the Go loader, each file stops at its first problem; every file's problem is reported.
 * Imported domains count as envoyproxy/ratelimit does (`counting: envoy`) unless a file says otherwise.
 */
export function importEnvoyRatelimit(
  files: EnvoyConfigFile[],
  options: ImportOptions = {},
): ImportedRatelimit {
  const domains: RatelimitDomains = {};
  const notes: string[] = [];
  const problems: Array<{ path: string; message: string }> = [];
  for (const file of files) {
    try {
      const config = readEnvoyConfig(file.name, file.text);
      if (config.domain === '') config.fail(undefined, 'domain', 'config file cannot have empty domain');
      const existing = domains[config.domain];
      if (existing && !options.mergeDomains)
        config.fail(undefined, 'domain', `duplicate domain '${config.domain}' in config file`);
      if (!isRlsText(config.domain)) config.fail(undefined, 'domain', `Tollgate needs ${RLS_TEXT_RULE} here`);
      const fileNotes: string[] = [];
      // Merged files share the top level: a composite key already there is a duplicate, as in Go.
      const topKeys = new Set((existing?.descriptors ?? []).map(compositeKey));
      const descriptors = convertLevel(config, config.descriptors, `${config.domain}.`, fileNotes, topKeys);
      const domain: RatelimitDomain = existing ?? { descriptors: [], counting: 'envoy' };
      domain.descriptors.push(...descriptors);
      applySettings(config, domain);
      domains[config.domain] = domain;
      notes.push(...fileNotes);
    } catch (err) {
      if (!(err instanceof ConfigProblem)) throw err;
      problems.push({ path: err.where, message: err.message });
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return { domains, notes };
}

/** Tollgate's top-level `counting` and `response_headers` (per domain). */
function applySettings(config: EnvoyConfig, domain: RatelimitDomain): void {
  if (config.counting !== '') {
    const counting = RLS_COUNTING.find((c) => c === config.counting);
    if (!counting) config.fail(undefined, 'counting', `expected one of ${RLS_COUNTING.join(', ')}`);
    domain.counting = counting;
  }
  if (config.responseHeaders !== '') {
    const headers = RLS_RESPONSE_HEADERS.find((h) => h === config.responseHeaders);
    if (!headers)
      config.fail(undefined, 'response_headers', `expected one of ${RLS_RESPONSE_HEADERS.join(', ')}`);
    domain.responseHeaders = headers;
  }
}

function compositeKey(rule: DescriptorRule): string {
  return rule.value === undefined ? rule.key : `${rule.key}_${rule.value}`;
}

function convertLevel(
  config: EnvoyConfig,
  descriptors: EnvoyDescriptor[],
  parentKey: string,
  notes: string[],
  seen = new Set<string>(),
): DescriptorRule[] {
  return descriptors.map((d) => {
    if (d.key === '') config.fail(d.node, d.path, 'descriptor has empty key');
    const finalKey = d.value === '' ? d.key : `${d.key}_${d.value}`;
    if (seen.has(finalKey))
      config.fail(d.node, d.path, `duplicate descriptor composite key '${parentKey}${finalKey}'`);
    seen.add(finalKey);
    const rule = convertDescriptor(config, d);
    if (rule.rateLimit) notes.push(describe(`${parentKey}${finalKey}`, d, rule));
    rule.descriptors = convertLevel(config, d.descriptors, `${parentKey}${finalKey}.`, notes);
    return rule;
  });
}

function convertDescriptor(config: EnvoyConfig, d: EnvoyDescriptor): DescriptorRule {
  const rule: DescriptorRule = {
    key: d.key,
    shadow: d.shadowMode,
    shareThreshold: d.shareThreshold,
    descriptors: [],
  };
  if (d.value !== '') rule.value = d.value;
  const rl = d.rateLimit;
  if (rl) {
    const unit = RATE_UNITS.find((u) => u === rl.unit.toLowerCase());
    if (rl.unlimited && unit)
      config.fail(d.node, `${d.path}.rate_limit`, 'should not specify rate limit unit when unlimited');
    if (!rl.unlimited && !unit)
      config.fail(d.node, `${d.path}.rate_limit.unit`, `invalid rate limit unit '${rl.unit}'`);
    rl.replaces.forEach((name, i) => {
      if (name === '')
        config.fail(d.node, `${d.path}.rate_limit.replaces[${i}]`, 'should not have an empty replaces entry');
      if (name === rl.name)
        config.fail(
          d.node,
          `${d.path}.rate_limit.replaces[${i}]`,
          'replaces should not contain name of same descriptor',
        );
    });
    const limit = unit
      ? { algorithm: 'fixed_window' as const, limit: rl.requestsPerUnit, windowMs: UNIT_MS[unit] }
      : null;
    rule.rateLimit = { replaces: rl.replaces, limit: rl.unlimited ? null : limit };
    if (rl.name !== '') rule.rateLimit.name = rl.name;
  }
  if (d.shareThreshold && !d.value.includes('*'))
    config.fail(
      d.node,
      `${d.path}.share_threshold`,
      `share_threshold can only be used with wildcard values (containing '*'), but found key '${d.value === '' ? d.key : `${d.key}_${d.value}`}'`,
    );
  if (d.quotaMode) rule.quotaMode = true;
  // Tollgate's own limits on what it can take over unchanged.
  for (const [text, at] of [
    [d.key, 'key'],
    [d.value || 'x', 'value'],
    [rl?.name || 'x', 'rate_limit.name'],
    ...(rl?.replaces ?? []).map((n, i) => [n, `rate_limit.replaces[${i}]`]),
  ] as const) {
    if (!isRlsText(text)) config.fail(d.node, `${d.path}.${at}`, `Tollgate needs ${RLS_TEXT_RULE} here`);
  }
  return rule;
}

/** One line per rule: what Tollgate will do with it. */
function describe(where: string, d: EnvoyDescriptor, rule: DescriptorRule): string {
  const rateLimit = rule.rateLimit!;
  const parts: string[] = [];
  if (rateLimit.limit === null) parts.push('unlimited: always OK, never counted');
  else {
    const { limit, windowMs } = rateLimit.limit;
    const unit = RATE_UNITS.find((u) => UNIT_MS[u] === windowMs)!;
    parts.push(
      limit === 0
        ? `limit 0: every counted request is over the limit`
        : `fixed_window, ${limit} per ${formatDuration(windowMs)}`,
    );
    parts.push(WINDOW_NOTES[unit] ?? 'windows aligned to the epoch, as envoyproxy/ratelimit counts them');
  }
  if (rule.value?.includes('*'))
    parts.push(
      rule.shareThreshold ? 'all matching values share one counter' : 'each matching value counted apart',
    );
  else if (rule.value === undefined) parts.push('each value counted apart');
  if (rule.shadow) parts.push('shadow mode: counted, never over the limit');
  if (rule.quotaMode) parts.push('quota mode: over only when every quota descriptor of the request is over');
  if (rateLimit.name) parts.push(`named "${rateLimit.name}"`);
  if (rateLimit.replaces.length > 0)
    parts.push(`replaces ${rateLimit.replaces.map((n) => `"${n}"`).join(', ')}`);
  if (d.dropped.length > 0) parts.push(`${d.dropped.join(', ')} dropped (no effect on decisions)`);
  return `${where}: ${parts.join('; ')}`;
}
