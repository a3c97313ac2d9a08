// RatelimitDomains → the `ratelimit_domains` section of the policy file (plain objects for `yaml`).

import { formatDuration } from './policy-checks.js';
import type { DescriptorRateLimit, DescriptorRule, RatelimitDomains } from './ratelimit-rules.js';

/** parseRatelimitDomains(ratelimitDomainsToYaml(d)) deep-equals d. */
export function ratelimitDomainsToYaml(domains: RatelimitDomains): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, domain] of Object.entries(domains)) {
    const yaml: Record<string, unknown> = {};
    if (domain.counting) yaml.counting = domain.counting;
    if (domain.responseHeaders) yaml.response_headers = domain.responseHeaders;
    yaml.descriptors = domain.descriptors.map(descriptorToYaml);
    out[name] = yaml;
  }
  return out;
}

export function descriptorToYaml(rule: DescriptorRule): Record<string, unknown> {
  const out: Record<string, unknown> = { key: rule.key };
  if (rule.value !== undefined) out.value = rule.value;
  if (rule.rateLimit) out.rate_limit = rateLimitToYaml(rule.rateLimit);
  if (rule.shadow) out.shadow = true;
  if (rule.shareThreshold) out.share_threshold = true;
  if (rule.quotaMode) out.quota_mode = true;
  if (rule.descriptors.length > 0) out.descriptors = rule.descriptors.map(descriptorToYaml);
  return out;
}

function rateLimitToYaml(rateLimit: DescriptorRateLimit): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rateLimit.name !== undefined) out.name = rateLimit.name;
  const { limit } = rateLimit;
  if (limit === null) out.unlimited = true;
  else {
    out.algorithm = limit.algorithm;
    out.limit = limit.limit;
    out.window = formatDuration(limit.windowMs);
    if (limit.burst !== undefined) out.burst = limit.burst;
  }
  if (rateLimit.replaces.length > 0) out.replaces = rateLimit.replaces;
  return out;
}
