// A descriptor that names Tollgate's API key (`tollgate_api_key`, from Envoy's request_headers action on
// x-api-key) is decided by the caller's plan, beside the RLS rules of the same call, on the running app.

import { randomBytes } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RateLimitResponse_Code as Code,
  RateLimitRequest,
  RateLimitServiceClient,
  type DeepPartial,
  type RateLimitResponse,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { deleteAccountKeys } from '../support/redis-keys.js';
import {
  DEMO_POLICY_YAML,
  REDIS_URL,
  startTollgate,
  TEST_ADMIN_TOKEN,
  type TestTollgate,
} from '../support/tollgate.js';
import { Redis } from 'ioredis';

const DOMAIN = `routes_${randomBytes(4).toString('hex')}`;
const POLICY = `${DEMO_POLICY_YAML}
ratelimit_domains:
  ${DOMAIN}:
    counting: envoy
    descriptors:
      - key: remote_address
        rate_limit: { algorithm: fixed_window, limit: 100, window: 1m }
`;

describe('the API-key descriptor', () => {
  let tollgate: TestTollgate;
  let client: RateLimitServiceClient;
  beforeAll(async () => {
    tollgate = await startTollgate({
      policyYaml: POLICY,
      accounts: [
        { label: 'free', tier: 'free' },
        { label: 'pro', tier: 'pro' },
      ],
    });
    client = new RateLimitServiceClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    if (tollgate) {
      const redis = new Redis(REDIS_URL);
      await deleteAccountKeys(redis, Object.values(tollgate.accounts));
      redis.disconnect();
    }
    await tollgate?.stop();
  });
  const ask = (request: DeepPartial<RateLimitRequest>) =>
    new Promise<RateLimitResponse>((resolve, reject) =>
      client.shouldRateLimit(RateLimitRequest.fromPartial(request), (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  const call = (apiKey: string, path = '/v1/chat/completions') =>
    ask({
      domain: DOMAIN,
      descriptors: [
        { entries: [{ key: 'remote_address', value: '10.1.1.1' }] },
        {
          entries: [
            { key: 'tollgate_api_key', value: apiKey },
            { key: ':method', value: 'POST' },
            { key: ':path', value: path },
          ],
        },
      ],
    });

  it("applies the caller's plan (free: chat 5 a minute) next to the RLS rule", async () => {
    const codes: Code[] = [];
    for (let i = 0; i < 6; i++) codes.push((await call(tollgate.keys.free!)).overallCode);
    expect(codes).toEqual([Code.OK, Code.OK, Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
    const last = await call(tollgate.keys.free!);
    expect(last.statuses[0]!.code).toBe(Code.OK); // the RLS rule (100 a minute) is fine
    expect(last.statuses[1]).toMatchObject({ code: Code.OVER_LIMIT, currentLimit: { name: 'chat-minute' } });
  });

  it('an unknown key, or a path outside the plan, is OVER_LIMIT for that descriptor', async () => {
    expect((await call('tg_nonsense')).statuses[1]!.code).toBe(Code.OVER_LIMIT);
    expect((await call(tollgate.keys.free!, '/v1/export/x')).statuses[1]!.code).toBe(Code.OVER_LIMIT);
  });

  it('a metered endpoint (chat) sends its reservation upstream, as ext_authz does; a denial sends none', async () => {
    const allowed = await call(tollgate.keys.pro!);
    expect(allowed.overallCode).toBe(Code.OK);
    const added = allowed.requestHeadersToAdd.map((h) => [h.key, h.value]);
    expect(added).toHaveLength(1);
    const [name, id] = added[0]!;
    expect(name).toBe('x-tollgate-reservation');
    const settled = await fetch(`http://127.0.0.1:${tollgate.adminPort}/admin/reservations/${id}/settle`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ units: 2 }),
    });
    expect(await settled.json()).toEqual({ outcome: 'settled', reserved: 5, units: 2 });
    const denied = await call(tollgate.keys.free!);
    expect(denied.overallCode).toBe(Code.OVER_LIMIT);
    expect(denied.requestHeadersToAdd).toEqual([]);
  });
});
