// `tollgate import-envoy-ratelimit`: one fixture per envoyproxy/ratelimit config error with its exact
// message (file, line:column, path), and the valid README examples converted into policy rules.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { renderImport } from '../../src/cli/ratelimit-commands.js';
import { InputError } from '../../src/errors.js';
import { parsePolicy, serializePolicy } from '../../src/policy/policy-file.js';
import { importEnvoyRatelimit, type EnvoyConfigFile } from '../../src/rls/import-envoy-ratelimit.js';

const DIR = new URL('../fixtures/envoy-ratelimit/', import.meta.url);
const fixture = (name: string): EnvoyConfigFile => ({ name, text: readFileSync(new URL(name, DIR), 'utf8') });
const VALID = readdirSync(new URL('valid/', DIR))
  .sort()
  .map((f) => fixture(`valid/${f}`));

function rejection(files: EnvoyConfigFile[]): string {
  try {
    importEnvoyRatelimit(files);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).message;
  }
  throw new Error('expected the import to fail');
}

describe('import-envoy-ratelimit rejects what envoyproxy/ratelimit rejects', () => {
  // [fixture, message]: the Go loader's text (config_impl.go), prefixed with file:line:col: path.
  test.each([
    [
      'syntax-error',
      'invalid/syntax-error.yaml:5:1: error loading config file: Flow map in block collection must be sufficiently indented and end with a }',
    ],
    [
      'duplicate-yaml-key',
      'invalid/duplicate-yaml-key.yaml:2:1: error loading config file: Map keys must be unique',
    ],
    [
      'not-a-mapping',
      'invalid/not-a-mapping.yaml:1:1: error loading config file: the document is not a mapping',
    ],
    [
      'non-string-key',
      'invalid/non-string-key.yaml:4:5: descriptors[0]: config error, key is not of type string: 1',
    ],
    [
      'unknown-key',
      "invalid/unknown-key.yaml:4:5: descriptors[0].ratelimit: config error, unknown key 'ratelimit'",
    ],
    [
      'list-of-non-maps',
      'invalid/list-of-non-maps.yaml:4:5: descriptors[1]: config error, yaml file contains list of type other than map: b',
    ],
    [
      'float-value',
      'invalid/float-value.yaml:6:26: descriptors[0].rate_limit.requests_per_unit: error checking config',
    ],
    [
      'wrong-type',
      'invalid/wrong-type.yaml:6:26: descriptors[0].rate_limit.requests_per_unit: error loading config file: cannot unmarshal !!str `lots` into uint32',
    ],
    ['empty-domain', 'invalid/empty-domain.yaml:1:1: domain: config file cannot have empty domain'],
    ['empty-key', 'invalid/empty-key.yaml:5:9: descriptors[0].descriptors[0]: descriptor has empty key'],
    [
      'duplicate-key',
      "invalid/duplicate-key.yaml:7:9: descriptors[0].descriptors[1]: duplicate descriptor composite key 'bad.a.b_x'",
    ],
    [
      'invalid-unit',
      "invalid/invalid-unit.yaml:3:5: descriptors[0].rate_limit.unit: invalid rate limit unit 'fortnight'",
    ],
    [
      'missing-unit',
      "invalid/missing-unit.yaml:3:5: descriptors[0].rate_limit.unit: invalid rate limit unit ''",
    ],
    [
      'unlimited-with-unit',
      'invalid/unlimited-with-unit.yaml:3:5: descriptors[0].rate_limit: should not specify rate limit unit when unlimited',
    ],
    [
      'empty-replaces',
      'invalid/empty-replaces.yaml:3:5: descriptors[0].rate_limit.replaces[0]: should not have an empty replaces entry',
    ],
    [
      'replaces-itself',
      'invalid/replaces-itself.yaml:3:5: descriptors[0].rate_limit.replaces[0]: replaces should not contain name of same descriptor',
    ],
    [
      'share-threshold-without-wildcard',
      "invalid/share-threshold-without-wildcard.yaml:3:5: descriptors[0].share_threshold: share_threshold can only be used with wildcard values (containing '*'), but found key 'a_exact'",
    ],
  ])('%s', (name, message) => {
    expect(rejection([fixture(`invalid/${name}.yaml`)])).toBe(message);
  });

  test('a domain defined in two files', () => {
    const files = [fixture('invalid/duplicate-domain-a.yaml'), fixture('invalid/duplicate-domain-b.yaml')];
    expect(rejection(files)).toBe(
      "invalid/duplicate-domain-b.yaml:1:1: domain: duplicate domain 'twice' in config file",
    );
  });

  test('every broken file is reported, one problem each, and valid files alongside change nothing', () => {
    const files = [VALID[0]!, fixture('invalid/empty-key.yaml'), fixture('invalid/invalid-unit.yaml')];
    expect(rejection(files).split('\n')).toHaveLength(2);
  });
});

describe('import-envoy-ratelimit converts', () => {
  test('the README examples into rules the policy parser accepts, round-tripping through YAML', () => {
    const yaml = renderImport(VALID, false);
    const policy = parsePolicy(`tiers:\n  free: { quota: unlimited }\n${yaml}`);
    expect(policy.ratelimitDomains).toStrictEqual(importEnvoyRatelimit(VALID).domains);
    expect(parsePolicy(serializePolicy(policy))).toStrictEqual(policy);
  });

  test('units become fixed windows aligned to the epoch; month is 30 days and the output says so', () => {
    const { domains, notes } = importEnvoyRatelimit([fixture('valid/features.yaml')]);
    const plans = domains
      .features!.descriptors.filter((d) => d.key === 'plan')
      .map((d) => d.rateLimit!.limit);
    expect(plans).toStrictEqual([
      { algorithm: 'fixed_window', limit: 1000, windowMs: 7 * 86_400_000 },
      { algorithm: 'fixed_window', limit: 10_000, windowMs: 30 * 86_400_000 },
      { algorithm: 'fixed_window', limit: 100_000, windowMs: 365 * 86_400_000 },
    ]);
    expect(notes).toContain(
      "features.plan_monthly: fixed_window, 10000 per 30d; envoyproxy's month: 30-day windows counted from 1970-01-01, not calendar months",
    );
    expect(renderImport([fixture('valid/features.yaml')], false)).toContain(
      "#   features.plan_monthly: fixed_window, 10000 per 30d; envoyproxy's month",
    );
  });

  test('unlimited, shadow_mode, name/replaces, share_threshold, key-only; stats-only fields dropped', () => {
    const { domains } = importEnvoyRatelimit([fixture('valid/features.yaml')]);
    const byKey = (key: string, value?: string) =>
      domains.features!.descriptors.find((d) => d.key === key && d.value === value)!;
    expect(byKey('tenant', 'internal').rateLimit).toStrictEqual({ replaces: [], limit: null });
    expect(byKey('dry_run').shadow).toBe(true);
    expect(byKey('user').rateLimit!.name).toBe('per-user');
    expect(byKey('vip').rateLimit!.replaces).toEqual(['per-user']);
    expect(byKey('path', '/shared/*').shareThreshold).toBe(true);
    expect(byKey('free_pass')).toStrictEqual({
      key: 'free_pass',
      shadow: false,
      shareThreshold: false,
      descriptors: [],
    });
  });

  test('--json prints the section and the notes', () => {
    const json = JSON.parse(renderImport([fixture('valid/example1-mongo.yaml')], true));
    expect(json.ratelimit_domains.mongo_cps.descriptors[0]).toEqual({
      key: 'database',
      value: 'users',
      rate_limit: { algorithm: 'fixed_window', limit: 500, window: '1s' },
    });
    expect(json.notes).toHaveLength(2);
  });
});
