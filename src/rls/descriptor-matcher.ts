// RLS step 2: a request descriptor (domain + ordered entries) → the one rule that applies, as
// envoyproxy/ratelimit's GetLimit picks it. Compiled once per policy load into per-level lookups.

import type { DescriptorRateLimit, DescriptorRule, RatelimitDomains } from '../policy/ratelimit-rules.js';

export interface DescriptorEntry {
  key: string;
  value: string;
}

export interface MatchedRule {
  rule: DescriptorRule;
  rateLimit: DescriptorRateLimit;
  /** The rule's place in the tree, `key=value/key2`, for names and counter ids. */
  rulePath: string;
  /** What the counter is keyed on: the request's values (the pattern where share_threshold is set). */
  counted: string[];
  /** envoyproxy/ratelimit's stats key parts below the domain (`key_value` per level): bounded by the rules. */
  statsKeys: string[];
}

interface Node {
  rule: DescriptorRule;
  path: string;
  statsKeys: string[];
  children: Level;
}

interface Level {
  /** `key\0value` → node. */
  exact: Map<string, Node>;
  /** In file order: the first matching pattern wins. */
  wildcards: Array<{ key: string; pattern: RegExp; node: Node }>;
  /** Key-only rules: any value. */
  anyValue: Map<string, Node>;
}

export class DescriptorMatcher {
  private readonly domains = new Map<string, Level>();

  constructor(domains: RatelimitDomains) {
    for (const [name, domain] of Object.entries(domains))
      this.domains.set(name, compileLevel(domain.descriptors, '', []));
  }

  hasDomain(domain: string): boolean {
    return this.domains.has(domain);
  }

  /**
   * Per level: the exact key+value, else the first wildcard value, else the key alone. A limit
   * applies only on the node reached by the LAST entry: request depth must equal rule depth.
   */
  match(domain: string, entries: readonly DescriptorEntry[]): MatchedRule | null {
    let level = this.domains.get(domain);
    const counted: string[] = [];
    for (let i = 0; i < entries.length; i++) {
      const { key, value } = entries[i]!;
      if (!level) return null;
      const node =
        level.exact.get(`${key}\0${value}`) ??
        level.wildcards.find((w) => w.key === key && w.pattern.test(value))?.node ??
        level.anyValue.get(key);
      if (!node) return null;
      counted.push(key, node.rule.shareThreshold ? node.rule.value! : value);
      if (i === entries.length - 1) {
        return node.rule.rateLimit
          ? {
              rule: node.rule,
              rateLimit: node.rule.rateLimit,
              rulePath: node.path,
              counted,
              statsKeys: node.statsKeys,
            }
          : null;
      }
      level =
        node.children.exact.size + node.children.wildcards.length + node.children.anyValue.size > 0
          ? node.children
          : undefined;
    }
    return null;
  }
}

function compileLevel(rules: DescriptorRule[], parent: string, parentStats: string[]): Level {
  const level: Level = { exact: new Map(), wildcards: [], anyValue: new Map() };
  for (const rule of rules) {
    const path = `${parent}${parent ? '/' : ''}${rule.key}${rule.value === undefined ? '' : `=${rule.value}`}`;
    const statsKeys = [...parentStats, rule.value === undefined ? rule.key : `${rule.key}_${rule.value}`];
    const node: Node = { rule, path, statsKeys, children: compileLevel(rule.descriptors, path, statsKeys) };
    if (rule.value === undefined) level.anyValue.set(rule.key, node);
    else if (rule.value.includes('*'))
      level.wildcards.push({ key: rule.key, pattern: wildcardPattern(rule.value), node });
    else level.exact.set(`${rule.key}\0${rule.value}`, node);
  }
  return level;
}

/** `*` matches 0 or more characters, anywhere in the value; everything else literally. */
function wildcardPattern(value: string): RegExp {
  const body = value
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}
