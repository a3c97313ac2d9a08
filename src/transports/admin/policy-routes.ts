// Admin API: the policy document — read (YAML, or JSON on request) and replace whole (validated; nothing changes on error).

import { parse as parseYaml } from 'yaml';
import { writeAudit } from '../../accounts/audit-log.js';
import { parsePolicy, serializePolicy } from '../../policy/policy-file.js';
import { loadPolicy, savePolicy } from '../../policy/policy-repository.js';
import { policySchemaAsComponents } from '../../policy/policy-schema.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';

/** A policy is bigger than the other bodies (many endpoints and Envoy rate-limit rules). */
export const POLICY_MAX_BYTES = 1024 * 1024;
const YAML_TYPE = 'application/yaml; charset=utf-8';
const SUMMARY_SCHEMA = {
  type: 'object',
  properties: {
    tiers: { type: 'array', items: { type: 'string' } },
    endpoints: { type: 'array', items: { type: 'string' } },
    ratelimit_domains: { type: 'array', items: { type: 'string' } },
  },
  required: ['tiers', 'endpoints', 'ratelimit_domains'],
};

export function policyRoutes({ sql, reloadPolicy }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/policy',
      summary: 'The stored policy in the policy-file grammar: YAML, or JSON with Accept: application/json',
      responses: {
        200: {
          description: 'The policy document (tiers, endpoints, ratelimit_domains)',
          schema: { type: 'object' },
          contentTypes: ['application/yaml'],
        },
      },
      async handle({ headers }) {
        const yaml = serializePolicy(await loadPolicy(sql));
        if (/\bapplication\/json\b/i.test(headers.accept ?? ''))
          return { status: 200, json: parseYaml(yaml) as unknown };
        return { status: 200, text: yaml, contentType: YAML_TYPE };
      },
    },
    {
      method: 'PUT',
      path: '/admin/policy',
      summary:
        'Replace the whole policy. Validated whole: a 400 lists every problem with its path, and nothing changes',
      rawBody: {
        contentTypes: ['application/yaml', 'application/json'],
        maxBytes: POLICY_MAX_BYTES,
        description:
          'The policy file as YAML, or the same document as JSON (JSON is read as YAML 1.2, of which it is a subset). Its JSON Schema is schema/policy.schema.json (`tollgate schema policy`).',
        schema: policySchemaAsComponents().schema,
      },
      responses: { 200: { description: 'What was stored', schema: SUMMARY_SCHEMA } },
      async handle({ text, actor }) {
        const policy = parsePolicy(text);
        const summary = {
          tiers: Object.keys(policy.tiers),
          endpoints: policy.endpoints.map((e) => e.name),
          ratelimit_domains: Object.keys(policy.ratelimitDomains ?? {}),
        };
        await sql.transaction(async (tx) => {
          await savePolicy(tx, policy);
          await writeAudit(tx, { actor, action: 'policy.replace', target: 'policy', details: summary });
        });
        await reloadPolicy?.();
        return { status: 200, json: summary };
      },
    },
  ];
}
