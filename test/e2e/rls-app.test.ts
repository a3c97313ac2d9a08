// The real app serves Envoy's rate-limit service on its gRPC port next to ext_authz, with rules from the policy.
import { randomBytes } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RateLimitResponse_Code as Code,
  RateLimitServiceClient,
  RateLimitRequest,
  type DeepPartial,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { GRPC_SERVERS } from '../support/grpc-servers.js';
import { DEMO_POLICY_YAML, startTollgate, type TestTollgate } from '../support/tollgate.js';

const policy = (DOMAIN: string) => `${DEMO_POLICY_YAML}
ratelimit_domains:
  ${DOMAIN}:
    descriptors:
      - key: remote_address
        rate_limit: { name: per-ip, algorithm: fixed_window, limit: 2, window: 1h }
`;

describe.each(GRPC_SERVERS)('RLS ShouldRateLimit through the running app (%s server)', (kind) => {
  const DOMAIN = `app_${randomBytes(4).toString('hex')}`;
  let tollgate: TestTollgate;
  let client: RateLimitServiceClient;
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logText += chunk.toString('utf8');
      done();
    },
  });
  beforeAll(async () => {
    tollgate = await startTollgate({
      policyYaml: policy(DOMAIN),
      accounts: [],
      env: { GRPC_SERVER: kind },
      logger: createLogger('debug', sink),
    });
    client = new RateLimitServiceClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
  });

  const ask = (request: DeepPartial<RateLimitRequest>) =>
    new Promise<RateLimitResponse>((resolve, reject) =>
      client.shouldRateLimit(RateLimitRequest.fromPartial(request), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );

  it('counts per descriptor value and answers OVER_LIMIT past the rule, with headers and a body', async () => {
    const request = {
      domain: DOMAIN,
      descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.1' }] }],
    };
    expect((await ask(request)).overallCode).toBe(Code.OK);
    expect((await ask(request)).overallCode).toBe(Code.OK);
    const over = await ask(request);
    expect(over.overallCode).toBe(Code.OVER_LIMIT);
    expect(over.statuses[0]?.limitRemaining).toBe(0);
    expect(over.responseHeadersToAdd.map((h) => h.key)).toContain('retry-after');
    expect(JSON.parse(Buffer.from(over.rawBody).toString('utf8')).code).toBe('rate_limit_exceeded');
    const other = await ask({
      domain: DOMAIN,
      descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.2' }] }],
    });
    expect(other.overallCode).toBe(Code.OK);
  });

  it('an unknown domain is not limited, and overall_code is always set', async () => {
    const response = await ask({ domain: 'nobody', descriptors: [{ entries: [{ key: 'x', value: 'y' }] }] });
    expect(response.overallCode).toBe(Code.OK);
  });

  it('every RLS decision is in tollgate_decisions_total and the decision log, values never logged', async () => {
    const res = await fetch(`http://127.0.0.1:${tollgate.httpPort}/metrics`);
    const samples = parsePrometheusText(await res.text());
    const count = (labels: Record<string, string>) =>
      sampleValue(samples, 'tollgate_decisions_total', { transport: 'rls', tier: 'none', ...labels });
    // The test above: 3 allowed and 1 denied on the configured domain; then one on an unknown domain.
    expect(count({ outcome: 'allowed', reason: 'ok', endpoint: DOMAIN })).toBe(3);
    expect(count({ outcome: 'denied', reason: 'rate_limit_exceeded', endpoint: DOMAIN })).toBe(1);
    expect(count({ outcome: 'allowed', reason: 'ok', endpoint: 'unknown' })).toBe(1);
    const lines = logText
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((l) => l.transport === 'rls');
    expect(lines.filter((l) => l.msg === 'rls allowed')).toHaveLength(4);
    const denied = lines.filter((l) => l.msg === 'rls denied');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({
      domain: DOMAIN,
      descriptorKeys: ['remote_address'],
      violated: ['per-ip'],
    });
    expect(logText).not.toContain('10.0.0.1');
  });
});
