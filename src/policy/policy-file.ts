// Policy file (YAML, see demo-policy.yaml) → validated Policy; every problem reported with its path, or none at all.

import { LineCounter, parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { parseEndpoint } from './parse-endpoint.js';
import { parseTier } from './parse-tier.js';
import { parseRatelimitDomains } from './parse-ratelimit-domains.js';
import { checkTierBilling, POLICY_BILLING_KEYS } from './parse-tier-billing.js';
import { PolicyChecks } from './policy-checks.js';
import type { Policy } from './policy.js';
import { yamlPosition } from './yaml-position.js';

export { serializePolicy } from './serialize-policy.js';

/** Throws InputError listing every problem (`tiers.free.limits[0].window: expected a duration …`). */
export function parsePolicy(yamlText: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(yamlText, { uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return pos
          ? { path: `line ${pos.line}, column ${pos.col}`, message, line: pos.line, column: pos.col }
          : { path: 'yaml', message };
      }),
    );
  }
  const c = new PolicyChecks();
  let js: unknown;
  try {
    js = doc.toJS({ mapAsMap: true, maxAliasCount: 100 }) ?? new Map();
  } catch (err) {
    // An alias to no anchor (`<<: *nope`) or too many aliases: found only while building the value.
    throw new InputError([{ path: 'yaml', message: (err as Error).message }]);
  }
  // `ratelimit_domains` is taken out before the key check, so that message keeps naming the core sections.
  const domainsValue =
    js instanceof Map && js.has('ratelimit_domains') ? js.get('ratelimit_domains') : undefined;
  if (js instanceof Map) js.delete('ratelimit_domains');
  const root = c.map(js, 'policy', ['tiers', 'endpoints', ...POLICY_BILLING_KEYS]);
  const policy: Policy = { tiers: {}, endpoints: [] };
  /** tier name → its limit names, for override checks even when the tier itself has problems. */
  const tiers = new Map<string, string[]>();
  const tierMap = root?.has('tiers')
    ? c.map(root.get('tiers'), 'tiers')
    : root && c.add('tiers', 'required: at least one tier');
  if (tierMap?.size === 0) c.add('tiers', 'required: at least one tier');
  for (const [name, value] of tierMap ?? []) {
    const validName = c.name(name, `tiers.${name}`) !== undefined;
    const tier = parseTier(c, name, value, `tiers.${name}`);
    tiers.set(name, limitNames(value));
    if (tier && validName) policy.tiers[name] = tier;
  }
  const endpointMap = root?.has('endpoints') ? c.map(root.get('endpoints'), 'endpoints') : undefined;
  for (const [name, value] of endpointMap ?? []) {
    const validName = c.name(name, `endpoints.${name}`) !== undefined;
    const endpoint = parseEndpoint(c, name, value, `endpoints.${name}`, tiers);
    if (endpoint && validName) policy.endpoints.push(endpoint);
  }
  const domains =
    domainsValue === undefined ? {} : parseRatelimitDomains(c, domainsValue, 'ratelimit_domains');
  if (Object.keys(domains).length > 0) policy.ratelimitDomains = domains;
  if (root?.has('downgrade_tier')) {
    const name = c.name(root.get('downgrade_tier'), 'downgrade_tier');
    if (name !== undefined) policy.downgradeTier = name;
  }
  checkTierBilling(c, policy);
  if (c.problems.length > 0)
    throw new InputError(c.problems.map((p) => ({ ...p, ...yamlPosition(doc, lines, p.path) })));
  return policy;
}

function limitNames(tier: unknown): string[] {
  const limits = tier instanceof Map ? tier.get('limits') : undefined;
  if (!Array.isArray(limits)) return [];
  return limits
    .map((item: unknown) => (item instanceof Map ? item.get('name') : undefined))
    .filter((n): n is string => typeof n === 'string');
}
