// The policy JSON Schema: shipped current in schema/, a valid 2020-12 schema (checked by ajv, an
// independent implementation), accepting the demo policy and rejecting what the validator rejects.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { InputError } from '../../src/errors.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { policySchema } from '../../src/policy/policy-schema.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

const shipped = readFileSync(new URL('../../schema/policy.schema.json', import.meta.url), 'utf8');
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(policySchema());

/** Both readers of the same definitions: the schema (ajv) and the validator (parsePolicy). */
function verdicts(yaml: string): { schema: boolean; validator: boolean } {
  let validator = true;
  try {
    parsePolicy(yaml);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    validator = false;
  }
  return { schema: validate(parse(yaml)) as boolean, validator };
}

describe('policy JSON Schema', () => {
  test('schema/policy.schema.json is the generated schema (regenerate: tollgate schema policy > schema/policy.schema.json)', () => {
    expect(shipped).toBe(`${JSON.stringify(policySchema(), null, 2)}\n`);
  });

  test('accepts the demo policy', () => {
    expect(validate(parse(DEMO_POLICY_YAML)), JSON.stringify(validate.errors)).toBe(true);
  });

  test('rejects POSTT, as the validator does; accepts methods in any case', () => {
    const withMethods = (methods: string) =>
      DEMO_POLICY_YAML.replace('methods: [POST]', `methods: [${methods}]`);
    expect(verdicts(withMethods('POSTT, get'))).toEqual({ schema: false, validator: false });
    expect(validate.errors?.[0]?.instancePath).toBe('/endpoints/chat/match/methods/0');
    expect(verdicts(withMethods('post, Get, DELETE'))).toEqual({ schema: true, validator: true });
  });

  test('the schema and the validator agree on structural mistakes', () => {
    const cases = [
      DEMO_POLICY_YAML.replace('window: 60s', 'window: sixty'),
      DEMO_POLICY_YAML.replace('algorithm: fixed_window', 'algorithm: leaky'),
      DEMO_POLICY_YAML.replace('quota: unlimited', 'quota: lots'),
      DEMO_POLICY_YAML.replace('currency: usd', 'currency: USD'),
      DEMO_POLICY_YAML.replace('currency: usd', 'currency: usd, first_month: half'),
      DEMO_POLICY_YAML.replace('currency: usd', 'currency: usd, vat: 20'),
      DEMO_POLICY_YAML.replace('reserve: 5,', 'reserve: -1,'),
      DEMO_POLICY_YAML.replace('reserve: 5,', 'reserve: 5, refund: all,'),
      DEMO_POLICY_YAML.replace('reserve_header: x-reserve-tokens', 'reserve_header: X Reserve'),
      DEMO_POLICY_YAML.replace('  export:\n', '  export:\n    cost: -1\n'),
      DEMO_POLICY_YAML.replace('path: /v1/export/**', 'path: v1/export'),
      DEMO_POLICY_YAML.replace('upgrade_url: https://example.com/pricing', 'upgrade_url: example.com'),
      DEMO_POLICY_YAML.replace('  chat:', '  default:'),
      'tiers: {}\n',
      'endpoints: {}\n',
    ];
    for (const yaml of cases) expect(verdicts(yaml), yaml).toEqual({ schema: false, validator: false });
    const prorated = DEMO_POLICY_YAML.replace('currency: usd', 'currency: usd, first_month: prorated');
    expect(verdicts(prorated)).toEqual({ schema: true, validator: true });
  });
});
