// The running app as a drop-in for envoyproxy/ratelimit: its config directory, its counting on the
// shared Redis, GET /healthcheck, POST /json and the ratelimit_service_rate_limit_* counters.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RateLimitResponse_Code as Code,
  RateLimitRequest,
  RateLimitServiceClient,
  type DeepPartial,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const DOMAIN = `erl_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-erl-endpoints-'));
writeFileSync(
  join(dir, 'config.yaml'),
  `domain: ${DOMAIN}
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 1 }
  - key: region
    value: eu
    descriptors:
      - key: city
        rate_limit: { unit: minute, requests_per_unit: 3 }
`,
);

describe('envoyproxy/ratelimit endpoints and stats on the running app (real Redis)', () => {
  let tollgate: TestTollgate;
  let client: RateLimitServiceClient;
  const base = () => `http://127.0.0.1:${tollgate.httpPort}`;
  beforeAll(async () => {
    tollgate = await startTollgate({ accounts: [], env: { ERL_CONFIG_DIR: dir } });
    client = new RateLimitServiceClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const ask = (request: DeepPartial<RateLimitRequest>) =>
    new Promise<RateLimitResponse>((resolve, reject) =>
      client.shouldRateLimit(RateLimitRequest.fromPartial(request), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  const postJson = (body: string) => fetch(`${base()}/json`, { method: 'POST', body });

  it('GET /healthcheck answers OK while ready', async () => {
    const res = await fetch(`${base()}/healthcheck`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
  });

  it('gRPC: hits 2 on 1/hour is over and counted, so hits 1 is over too; no headers by default; whole seconds', async () => {
    const user = `u${randomBytes(4).toString('hex')}`;
    const first = await ask({
      domain: DOMAIN,
      descriptors: [{ entries: [{ key: 'user', value: user }] }],
      hitsAddend: 2,
    });
    expect(first.overallCode).toBe(Code.OVER_LIMIT);
    expect(first.responseHeadersToAdd).toEqual([]);
    expect(first.rawBody.length).toBe(0);
    expect(first.statuses[0]!.durationUntilReset!.nanos).toBe(0);
    const second = await ask({ domain: DOMAIN, descriptors: [{ entries: [{ key: 'user', value: user }] }] });
    expect(second.overallCode).toBe(Code.OVER_LIMIT);
  });

  it('POST /json: 200 with the proto3 JSON answer, 429 over the limit, 400 for what it cannot read', async () => {
    const request = (hits: number) =>
      JSON.stringify({
        domain: DOMAIN,
        descriptors: [
          {
            entries: [
              { key: 'region', value: 'eu' },
              { key: 'city', value: 'Zürich' },
            ],
            hits_addend: String(hits),
          },
        ],
      });
    const ok = await postJson(request(1));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    const body = (await ok.json()) as { overallCode: string; statuses: Array<Record<string, unknown>> };
    expect(body.overallCode).toBe('OK');
    expect(body.statuses[0]).toMatchObject({
      code: 'OK',
      currentLimit: { requestsPerUnit: 3, unit: 'MINUTE' },
      limitRemaining: 2,
    });
    expect(body.statuses[0]!.durationUntilReset).toMatch(/^\d+s$/);
    const over = await postJson(request(5));
    expect(over.status).toBe(429);
    expect(((await over.json()) as { overallCode: string }).overallCode).toBe('OVER_LIMIT');
    expect((await postJson('{"domain": ')).status).toBe(400);
    expect((await postJson('{"domain": "", "descriptors": []}')).status).toBe(400);
    expect((await postJson('{"domain": 5}')).status).toBe(400);
    expect((await postJson('['.repeat(500_000))).status).toBe(400);
    expect((await fetch(`${base()}/json`)).status).toBe(405);
  });

  it('per-rule counters carry domain, key1, key2 from the rules only', async () => {
    await ask({
      domain: DOMAIN,
      descriptors: [
        {
          entries: [
            { key: 'region', value: 'eu' },
            { key: 'city', value: 'Bern' },
          ],
        },
      ],
    });
    await ask({ domain: 'not-configured', descriptors: [{ entries: [{ key: 'user', value: 'x' }] }] });
    const samples = parsePrometheusText(await (await fetch(`${base()}/metrics`)).text());
    const city = { domain: DOMAIN, key1: 'region_eu', key2: 'city' };
    // Zürich: 1 within, then 5 (count 6 of 3): 3 over; Bern: 1 within. Counters expire with their window.
    expect(sampleValue(samples, 'ratelimit_service_rate_limit_total_hits', city)).toBe(7);
    expect(sampleValue(samples, 'ratelimit_service_rate_limit_over_limit', city)).toBe(3);
    expect(sampleValue(samples, 'ratelimit_service_rate_limit_within_limit', city)).toBe(2);
    expect(
      sampleValue(samples, 'ratelimit_service_rate_limit_total_hits', {
        domain: DOMAIN,
        key1: 'user',
        key2: '',
      }),
    ).toBe(3);
    const labelValues = samples
      .filter((s) => s.name.startsWith('ratelimit_service_rate_limit_'))
      .flatMap((s) => Object.values(s.labels));
    for (const value of ['Zürich', 'Bern', 'not-configured']) expect(labelValues).not.toContain(value);
    expect(sampleValue(samples, 'ratelimit_service_config_load_success', { source: 'directory' })).toBe(1);
  });
});
