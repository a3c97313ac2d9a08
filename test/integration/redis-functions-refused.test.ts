// A Redis that refuses Functions (here FCALL renamed away, as on Redis before 7.0): the app still
// decides, by EVALSHA, and /metrics says so with tollgate_redis_scripts_fallback.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { startRedisServer, type RedisProcess } from '../support/redis-server.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

let redis: RedisProcess;
let tollgate: TestTollgate;
beforeAll(async () => {
  redis = await startRedisServer(['--rename-command', 'FCALL', '']);
  tollgate = await startTollgate({
    accounts: [{ label: 'pro', tier: 'pro' }],
    env: { REDIS_URL: redis.url },
  });
});
afterAll(async () => {
  await tollgate?.stop();
  await redis?.stop();
});

const fallback = async () => {
  const res = await fetch(`http://127.0.0.1:${tollgate.httpPort}/metrics`);
  return sampleValue(parsePrometheusText(await res.text()), 'tollgate_redis_scripts_fallback', {});
};

test('decisions go by EVALSHA and the fallback gauge turns 1 at the first one', async () => {
  expect(await fallback()).toBe(0);
  const check = () =>
    fetch(`http://127.0.0.1:${tollgate.httpPort}/check`, {
      headers: {
        'x-api-key': tollgate.keys['pro']!,
        'x-original-uri': '/v1/items',
        'x-original-method': 'GET',
      },
    });
  expect((await check()).status).toBe(204);
  expect((await check()).status).toBe(204);
  expect(await fallback()).toBe(1);
});
