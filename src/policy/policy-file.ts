// Policy file (YAML, DESIGN §3) → validated Policy; every problem reported with its path, or none at all.

import { parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { parseEndpoint } from './parse-endpoint.js';
import { parseTier } from './parse-tier.js';
import { parseRatelimitDomains } from '../ratelimit/parse-ratelimit-domains.js';
import { PolicyChecks } from './policy-checks.js';
import type { Policy } from './policy.js';

export { serializePolicy } from './serialize-policy.js';

/** Throws InputError listing every problem (`tiers.free.limits[0].window: expected a duration …`). */
export function parsePolicy(yamlText: string): Policy {
  const doc = parseDocument(yamlText, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { path: pos ? `line ${pos.line}, column ${pos.col}` : 'yaml', message };
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
  const root = c.map(js, 'policy', ['tiers', 'endpoints']);
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
  if (c.problems.length > 0) throw new InputError(c.problems);
  return policy;
}

function limitNames(tier: unknown): string[] {
  const limits = tier instanceof Map ? tier.get('limits') : undefined;
  if (!Array.isArray(limits)) return [];
  return limits
    .map((item: unknown) => (item instanceof Map ? item.get('name') : undefined))
    .filter((n): n is string => typeof n === 'string');
}
