// `tollgate import-envoy-ratelimit`: envoyproxy/ratelimit config files → Tollgate `ratelimit_domains`
// rules that decide the same, plus one note per rule saying what it does. Never touches the database.

import { InputError } from '../errors.js';
import { formatDuration } from '../policy/policy-checks.js';
import { RATE_UNITS, UNIT_MS, type RateUnit } from './rate-units.js';
import type { DescriptorRule, RatelimitDomains } from '../policy/ratelimit-rules.js';
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

const TEXT = /^[\x20-\x7e]{1,256}$/;
const WINDOW_NOTES: Partial<Record<RateUnit, string>> = {
  week: '7-day windows from Thursday 00:00 UTC (the epoch was a Thursday)',
  month: "envoyproxy's month: 30-day windows counted from 1970-01-01, not calendar months",
  year: '365-day windows counted from 1970-01-01, not calendar years',
};

/** Like the Go loader, each file stops at its first problem; every file's problem is reported. */
export function importEnvoyRatelimit(files: EnvoyConfigFile[]): ImportedRatelimit {
  const domains: RatelimitDomains = {};
  const notes: string[] = [];
  const problems: Array<{ path: string; message: string }> = [];
  for (const file of files) {
    try {
      const config = readEnvoyConfig(file.name, file.text);
      if (config.domain === '') config.fail(undefined, 'domain', 'config file cannot have empty domain');
      if (domains[config.domain])
        config.fail(undefined, 'domain', `duplicate domain '${config.domain}' in config file`);
      if (!TEXT.test(config.domain))
        config.fail(undefined, 'domain', 'Tollgate needs printable ASCII here (at most 256 characters)');
      const fileNotes: string[] = [];
      domains[config.domain] = {
        descriptors: convertLevel(config, config.descriptors, `${config.domain}.`, fileNotes),
      };
      notes.push(...fileNotes);
    } catch (err) {
      if (!(err instanceof ConfigProblem)) throw err;
      problems.push({ path: err.where, message: err.message });
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return { domains, notes };
}

function convertLevel(
  config: EnvoyConfig,
  descriptors: EnvoyDescriptor[],
  parentKey: string,
  notes: string[],
): DescriptorRule[] {
  const seen = new Set<string>();
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
  // Tollgate's own limits on what it can take over unchanged.
  if (d.shareThreshold && !d.value.includes('*'))
    config.fail(
      d.node,
      `${d.path}.share_threshold`,
      'share_threshold can only be used with a wildcard value (containing *)',
    );
  if (d.quotaMode) config.fail(d.node, `${d.path}.quota_mode`, 'quota_mode is not supported by Tollgate yet');
  for (const [text, at] of [
    [d.key, 'key'],
    [d.value || 'x', 'value'],
    [rl?.name || 'x', 'rate_limit.name'],
    ...(rl?.replaces ?? []).map((n, i) => [n, `rate_limit.replaces[${i}]`]),
  ] as const) {
    if (!TEXT.test(text))
      config.fail(d.node, `${d.path}.${at}`, 'Tollgate needs printable ASCII here (at most 256 characters)');
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
  if (rateLimit.name) parts.push(`named "${rateLimit.name}"`);
  if (rateLimit.replaces.length > 0)
    parts.push(`replaces ${rateLimit.replaces.map((n) => `"${n}"`).join(', ')}`);
  if (d.dropped.length > 0) parts.push(`${d.dropped.join(', ')} dropped (no effect on decisions)`);
  return `${where}: ${parts.join('; ')}`;
}
