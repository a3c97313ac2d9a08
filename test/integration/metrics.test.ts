// /metrics against the real app (Postgres + Redis): a known mix of decisions over HTTP /check and gRPC
// Check, then the exact counts per label set, latency histograms, cache results and policy gauges.

import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { packageVersion } from '../../src/observability/build-info.js';
import { parsePrometheusText, sampleValue, type Sample } from '../support/prometheus-text.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

/** Well-formed (so it reaches the key cache) but never issued: the key filter refuses it. */
/** The latency histogram's `le` labels, in exposition order (LATENCY_BUCKETS in metrics.ts, and +Inf). */
const LATENCY_LE = [
  '0.0001',
  '0.00025',
  '0.0005',
  '0.00075',
  '0.001',
  '0.0025',
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '1',
  '+Inf',
];
const BOGUS_KEY = 'tg_live_thisisnotakeythisisnotakey234567';

describe('/metrics after a known mix of decisions (demo policy)', () => {
  let tollgate: TestTollgate;
  let client: AuthorizationClient;
  let samples: Sample[];
  let contentType: string | null;
  const value = (name: string, labels: Record<string, string>) => sampleValue(samples, name, labels);

  const httpCheck = async (key: string, method: string, uri: string) =>
    (
      await fetch(`http://127.0.0.1:${tollgate.httpPort}/check`, {
        headers: { 'x-api-key': key, 'x-original-uri': uri, 'x-original-method': method },
      })
    ).status;

  const grpcCheck = (key: string, method: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const headers = { ':method': method, ':path': path, ':authority': 'api.example.com', 'x-api-key': key };
      const request = CheckRequest.fromPartial({
        attributes: { request: { http: { method, path, headers } } },
      });
      client.check(request, (err: Error | null, res: CheckResponse) =>
        err ? reject(err) : resolve(res.status?.code ?? -1),
      );
    });

  beforeAll(async () => {
    tollgate = await startTollgate({ accounts: [{ label: 'free', tier: 'free' }] });
    client = new AuthorizationClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
    const key = tollgate.keys['free']!;
    // chat-minute allows 5 chat calls a minute on free: 3 over HTTP, 2 over gRPC, then 2 denied.
    for (let i = 0; i < 3; i++) expect(await httpCheck(key, 'POST', '/v1/chat/completions')).toBe(204);
    expect(await httpCheck(BOGUS_KEY, 'GET', '/v1/items')).toBe(401);
    expect(await httpCheck(BOGUS_KEY, 'GET', '/v1/items')).toBe(401);
    expect(await httpCheck(key, 'GET', '/v1/export/all')).toBe(403);
    for (let i = 0; i < 2; i++) expect(await grpcCheck(key, 'POST', '/v1/chat/completions')).toBe(0);
    for (let i = 0; i < 2; i++) expect(await grpcCheck(key, 'POST', '/v1/chat/completions')).not.toBe(0);
    const res = await fetch(`http://127.0.0.1:${tollgate.httpPort}/metrics`);
    expect(res.status).toBe(200);
    contentType = res.headers.get('content-type');
    samples = parsePrometheusText(await res.text());
  });

  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
  });

  it('serves the registry content type', () => {
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('counts every decision once, by transport, outcome, reason, tier and endpoint', () => {
    const decisions = samples.filter((s) => s.name === 'tollgate_decisions_total');
    expect(
      decisions
        .map((s) => ({ ...s.labels, n: s.value }))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual(
      [
        { transport: 'http', outcome: 'allowed', reason: 'ok', tier: 'free', endpoint: 'chat', n: 3 },
        {
          transport: 'http',
          outcome: 'denied',
          reason: 'invalid_api_key',
          tier: 'none',
          endpoint: 'none',
          n: 2,
        },
        {
          transport: 'http',
          outcome: 'denied',
          reason: 'endpoint_not_in_plan',
          tier: 'free',
          endpoint: 'export',
          n: 1,
        },
        { transport: 'grpc', outcome: 'allowed', reason: 'ok', tier: 'free', endpoint: 'chat', n: 2 },
        {
          transport: 'grpc',
          outcome: 'denied',
          reason: 'rate_limit_exceeded',
          tier: 'free',
          endpoint: 'chat',
          n: 2,
        },
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  it('times every decision in the latency histogram, with buckets below a millisecond', () => {
    expect(value('tollgate_decision_duration_seconds_count', { transport: 'http' })).toBe(6);
    expect(value('tollgate_decision_duration_seconds_count', { transport: 'grpc' })).toBe(4);
    expect(value('tollgate_decision_duration_seconds_bucket', { transport: 'http', le: '+Inf' })).toBe(6);
    const les = samples
      .filter((s) => s.name === 'tollgate_decision_duration_seconds_bucket' && s.labels.transport === 'grpc')
      .map((s) => s.labels.le);
    expect(les).toEqual(LATENCY_LE);
    const buckets = samples
      .filter((s) => s.name === 'tollgate_decision_duration_seconds_bucket' && s.labels.transport === 'grpc')
      .map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b)); // cumulative
    expect(value('tollgate_decision_duration_seconds_sum', { transport: 'grpc' })).toBeGreaterThan(0);
  });

  it('times store calls: one Redis decide per counted decision, one Postgres load for the real key only', () => {
    expect(value('tollgate_store_duration_seconds_count', { store: 'redis', operation: 'decide' })).toBe(7);
    expect(value('tollgate_store_duration_seconds_count', { store: 'postgres', operation: 'find_key' })).toBe(
      1,
    );
    // The bogus key's one cache miss was answered by the key filter, without Postgres.
    expect(value('tollgate_key_filter_total', { result: 'refused' })).toBe(1);
    // Series of the stores in use exist from the start (at 0), so rate() has a baseline.
    expect(
      samples
        .filter((s) => s.name === 'tollgate_store_errors_total')
        .map((s) => [s.labels.store, s.value])
        .sort(),
    ).toEqual([
      ['postgres', 0],
      ['redis', 0],
    ]);
  });

  it('counts key cache hits, misses and negative hits', () => {
    // The real key: 8 lookups, the first a miss. The bogus key: a miss, then a negative hit.
    expect(value('tollgate_key_cache_total', { result: 'miss' })).toBe(2);
    expect(value('tollgate_key_cache_total', { result: 'hit' })).toBe(7);
    expect(value('tollgate_key_cache_total', { result: 'negative_hit' })).toBe(1);
  });

  it('counts allowed decisions that left at most 20% of a policy', () => {
    // chat-minute (5): the 4th and 5th allowed calls leave 1 and 0.
    expect(samples.filter((s) => s.name === 'tollgate_near_limit_total')).toEqual([
      { name: 'tollgate_near_limit_total', labels: { tier: 'free', policy: 'chat-minute' }, value: 2 },
    ]);
    expect(samples.filter((s) => s.name === 'tollgate_shadow_denied_total')).toEqual([]);
  });

  it('exports the configured limits of the demo policy, and the degraded and flush-lag gauges at 0', () => {
    const limits = samples
      .filter((s) => s.name === 'tollgate_policy_limit')
      .map((s) => [s.labels.tier, s.labels.policy, s.labels.endpoint, s.value]);
    expect(limits.sort()).toEqual(
      [
        ['free', 'per-minute', '*', 10],
        ['free', 'monthly-quota', '*', 100],
        ['pro', 'burst', '*', 60],
        ['pro', 'monthly-quota', '*', 10_000],
        ['enterprise', 'per-second', '*', 300],
        ['free', 'chat-minute', 'chat', 5],
        ['pro', 'chat-minute', 'chat', 30],
      ].sort(),
    );
    expect(value('tollgate_degraded', {})).toBe(0);
    expect(value('tollgate_redis_scripts_fallback', {})).toBe(0);
    expect(value('tollgate_usage_flush_lag_seconds', {})).toBe(0);
  });

  it('labels come from bounded sets: never a key, an account id or a path', () => {
    const allowed: Record<string, Set<string>> = {
      transport: new Set(['http', 'grpc', 'envoy_http', 'cli']),
      outcome: new Set(['allowed', 'denied', 'error']),
      reason: new Set([
        'ok',
        'unavailable',
        'internal',
        'missing_api_key',
        'invalid_api_key',
        'account_suspended',
        'endpoint_not_in_plan',
        'rate_limit_exceeded',
        'quota_exceeded',
        'insufficient_credits',
      ]),
      tier: new Set(['free', 'pro', 'enterprise', 'none']),
      endpoint: new Set(['chat', 'export', 'default', 'none', '*']),
      policy: new Set(['per-minute', 'burst', 'per-second', 'chat-minute', 'monthly-quota']),
      store: new Set(['redis', 'postgres', 'memory']),
      operation: new Set(['decide', 'find_key']),
      result: new Set(['hit', 'miss', 'negative_hit', 'refused', 'false_positive']),
      le: new Set(LATENCY_LE),
      // tollgate_build_info (test/integration/metrics-exposition.test.ts): one series per process.
      version: new Set([packageVersion()]),
      commit: new Set(['unknown']),
      node: new Set([process.version]),
    };
    const ours = samples.filter((s) => s.name.startsWith('tollgate_'));
    expect(ours.length).toBeGreaterThan(20);
    const secrets = [tollgate.keys['free']!, BOGUS_KEY, tollgate.accounts['free']!, tollgate.keyIds['free']!];
    for (const { name, labels } of ours) {
      for (const [label, val] of Object.entries(labels)) {
        expect(allowed[label], `${name}: unexpected label ${label}`).toBeDefined();
        expect(allowed[label]!.has(val), `${name}{${label}="${val}"}`).toBe(true);
        expect(val).not.toContain('/');
        for (const secret of secrets) expect(val).not.toContain(secret);
      }
    }
  });
});
