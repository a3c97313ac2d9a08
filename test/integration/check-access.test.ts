// The decision use case on real Postgres + Redis: a denied call consumes nothing anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/access/access-request.js';
import type { Decision } from '../../src/access/decision.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const POLICY = `
tiers:
  metered:
    limits:
      - { name: tight, algorithm: fixed_window, limit: 3, window: 1h }
      - { name: loose, algorithm: token_bucket, limit: 100, window: 1h, burst: 100 }
    quota: { requests: 1000, period: month }
    credits_per_request: 2
    upgrade_url: https://example.com/upgrade
endpoints:
  report:
    match: { path: /v1/report/** }
    cost: 3
    overrides:
      metered: { limits: [{ name: report-hour, algorithm: fixed_window, limit: 100, window: 1h }] }
`;

function request(key: string | undefined, path = '/v1/report/x'): AccessRequest {
  return {
    transport: 'cli',
    apiKey: key,
    keyHeader: key ? 'x-api-key' : undefined,
    method: 'GET',
    path,
    spoofedHeaders: [],
  };
}

const remaining = (decision: Decision) =>
  Object.fromEntries(decision.policies.map((p) => [p.name, p.remaining]));

describe('checkAccess on real Postgres and Redis', () => {
  let tollgate: TestTollgate;
  beforeAll(async () => {
    tollgate = await startTollgate({
      policyYaml: POLICY,
      accounts: [
        { label: 'rich', tier: 'metered', credits: 1000 },
        { label: 'poor', tier: 'metered', credits: 13 },
      ],
    });
  });
  afterAll(() => tollgate?.stop());

  it('a call denied by one limit leaves every other counter, the quota and the credits unchanged', async () => {
    const check = (path?: string) => tollgate.app.checkAccess(request(tollgate.keys.rich, path));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push(await check());
    expect(seen.every((d) => d.allowed)).toBe(true);
    expect(remaining(seen[2]!)).toEqual({ tight: 0, loose: 97, 'report-hour': 97, 'monthly-quota': 991 });

    const denied = await check();
    expect(denied.allowed).toBe(false);
    expect(denied.allowed === false && [denied.status, denied.code, denied.violated]).toEqual([
      429,
      'rate_limit_exceeded',
      ['tight'],
    ]);
    expect(remaining(denied)).toEqual({ tight: 0, loose: 97, 'report-hour': 97, 'monthly-quota': 991 });
  });

  it('an ambiguous path is refused before the key or any counter, whatever endpoint the proxy named', async () => {
    const check = (path?: string) => tollgate.app.checkAccess(request(tollgate.keys.rich, path));
    const before = remaining(await check()); // rich is past `tight` now: denied, nothing consumed
    for (const path of ['/v1/report/%2e%2e/x', '/v1/x/../report/y', '/v1/report;a=b/x', '/v1%2freport/x']) {
      for (const hint of [undefined, 'report']) {
        const ambiguous = request(tollgate.keys.rich, path);
        if (hint) Object.assign(ambiguous, { endpointHint: hint, costHint: 1 });
        const decision = await tollgate.app.checkAccess(ambiguous);
        expect(decision.allowed === false && [decision.status, decision.code]).toEqual([
          400,
          'ambiguous_path',
        ]);
        expect(decision.identity).toBeUndefined(); // the key was not looked at
      }
    }
    const unknownKey = await tollgate.app.checkAccess(request('tg_live_nobody', '/v1/../report'));
    expect(unknownKey.allowed === false && unknownKey.code).toBe('ambiguous_path');
    expect(remaining(await check())).toEqual(before);
  });

  it('credits: debited per quota unit, never below zero, and a credit denial consumes nothing', async () => {
    const check = () => tollgate.app.checkAccess(request(tollgate.keys.poor));
    // 13 credits, 2 per unit × cost 3 = 6 per call: two calls pass (1 left), the third is refused.
    expect((await check()).allowed).toBe(true);
    expect((await check()).allowed).toBe(true);
    const denied = await check();
    expect(denied.allowed === false && [denied.status, denied.code, denied.upgradeUrl]).toEqual([
      402,
      'insufficient_credits',
      'https://example.com/upgrade',
    ]);
    expect(remaining(denied)).toEqual({ tight: 1, loose: 98, 'report-hour': 98, 'monthly-quota': 994 });
  });

  it('missing and unknown keys', async () => {
    const missing = await tollgate.app.checkAccess(request(undefined));
    expect(missing.allowed === false && missing.code).toBe('missing_api_key');
    const unknown = await tollgate.app.checkAccess(request('tg_live_doesnotexist'));
    expect(unknown.allowed === false && unknown.code).toBe('invalid_api_key');
  });
});
