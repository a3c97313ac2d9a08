// The policy file's `ratelimit_domains` section: any algorithm and window, every problem with its path.

import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parsePolicy, serializePolicy } from '../../src/policy/policy-file.js';

const TIERS = 'tiers:\n  free: { quota: unlimited }\n';

function problems(yaml: string): string[] {
  try {
    parsePolicy(TIERS + yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected parsePolicy to throw');
}

describe('ratelimit_domains', () => {
  test('every Tollgate algorithm and window, unlimited, shadow, replaces; round-trips through YAML', () => {
    const policy = parsePolicy(`${TIERS}ratelimit_domains:
  edge:
    descriptors:
      - key: remote_address
        rate_limit: { name: per-ip, algorithm: sliding_window, limit: 10, window: 10s }
      - key: user
        shadow: true
        rate_limit: { algorithm: token_bucket, limit: 5, window: 1m, burst: 20, replaces: [per-ip] }
        descriptors:
          - key: path
            value: /v1/*
            share_threshold: true
            rate_limit: { unlimited: true }
      - key: free_pass
`);
    expect(policy.ratelimitDomains).toStrictEqual({
      edge: {
        descriptors: [
          {
            key: 'remote_address',
            shadow: false,
            shareThreshold: false,
            descriptors: [],
            rateLimit: {
              name: 'per-ip',
              replaces: [],
              limit: { algorithm: 'sliding_window', limit: 10, windowMs: 10_000 },
            },
          },
          {
            key: 'user',
            shadow: true,
            shareThreshold: false,
            rateLimit: {
              replaces: ['per-ip'],
              limit: { algorithm: 'token_bucket', limit: 5, windowMs: 60_000, burst: 20 },
            },
            descriptors: [
              {
                key: 'path',
                value: '/v1/*',
                shadow: false,
                shareThreshold: true,
                descriptors: [],
                rateLimit: { replaces: [], limit: null },
              },
            ],
          },
          { key: 'free_pass', shadow: false, shareThreshold: false, descriptors: [] },
        ],
      },
    });
    expect(parsePolicy(serializePolicy(policy))).toStrictEqual(policy);
  });

  test('a policy without the section has no ratelimitDomains key', () => {
    expect('ratelimitDomains' in parsePolicy(TIERS)).toBe(false);
    expect('ratelimitDomains' in parsePolicy(`${TIERS}ratelimit_domains: {}\n`)).toBe(false);
  });

  test('every problem with its path', () => {
    expect(
      problems(`ratelimit_domains:
  edge:
    descriptors:
      - key: a
        rate_limit: { algorithm: fixed_window, limit: -1, window: 1w, burst: 2 }
      - key: a
      - value: x
        share_threshold: true
        rate_limit: { unlimited: true, limit: 5 }
      - key: b
        colour: red
        rate_limit: { name: n, replaces: [n, ""], algorithm: token_bucket, limit: 0, window: 1s }
  other: {}
  third: []
`),
    ).toEqual([
      'ratelimit_domains.edge.descriptors[0].rate_limit.limit: expected an integer >= 0',
      'ratelimit_domains.edge.descriptors[0].rate_limit.window: expected a duration like 60s, 1m, 1h, 1d',
      'ratelimit_domains.edge.descriptors[0].rate_limit.burst: only allowed with algorithm token_bucket',
      'ratelimit_domains.edge.descriptors[2].key: required',
      'ratelimit_domains.edge.descriptors[2].rate_limit.limit: not allowed with unlimited: true',
      'ratelimit_domains.edge.descriptors[2].share_threshold: only allowed with a wildcard value (containing *)',
      'ratelimit_domains.edge.descriptors[3].colour: unknown key (expected one of: key, value, rate_limit, shadow, share_threshold, quota_mode, descriptors)',
      'ratelimit_domains.edge.descriptors[3].rate_limit.replaces[0]: a rule cannot replace itself',
      'ratelimit_domains.edge.descriptors[3].rate_limit.replaces[1]: expected a string of 1 to 256 bytes of UTF-8, no control characters',
      'ratelimit_domains.edge.descriptors[3].rate_limit.limit: expected an integer >= 1',
      'ratelimit_domains.other.descriptors: required',
      'ratelimit_domains.third: expected a mapping',
    ]);
  });

  test('the same key and value twice at one level', () => {
    expect(
      problems('ratelimit_domains:\n  d:\n    descriptors: [{ key: a, value: x }, { key: a, value: x }]\n'),
    ).toEqual([
      'ratelimit_domains.d.descriptors[1]: key a with value x is already used at ratelimit_domains.d.descriptors[0]',
    ]);
  });

  test('counting: envoy takes fixed windows of whole seconds only; response_headers is one of three', () => {
    expect(
      problems(`ratelimit_domains:
  edge:
    counting: envoy
    response_headers: loud
    descriptors:
      - key: a
        rate_limit: { algorithm: token_bucket, limit: 5, window: 1m }
        descriptors:
          - key: b
            rate_limit: { algorithm: fixed_window, limit: 5, window: 1500ms }
      - key: c
        rate_limit: { algorithm: fixed_window, limit: 5, window: 1m }
`),
    ).toEqual([
      'ratelimit_domains.edge.descriptors[0].rate_limit: counting: envoy counts fixed_window limits with whole-second windows only (use counting: tollgate)',
      'ratelimit_domains.edge.descriptors[0].descriptors[0].rate_limit: counting: envoy counts fixed_window limits with whole-second windows only (use counting: tollgate)',
      'ratelimit_domains.edge.response_headers: expected one of: none, erl, ietf',
    ]);
  });
});
