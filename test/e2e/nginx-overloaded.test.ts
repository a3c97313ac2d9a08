// Through REAL nginx running the shipped nginx/tollgate.conf: a check the sidecar shed past
// MAX_INFLIGHT (403 + X-Tollgate-Status 503, code overloaded) reaches the client as 503 problem+json
// `overloaded` with Retry-After, and never reaches the app.

import { afterAll, expect, it } from 'vitest';
import { startNginx, type TestNginx } from '../support/nginx.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';

let tollgate: TestTollgate | undefined;
let upstream: TestUpstream | undefined;
let nginx: TestNginx | undefined;

afterAll(async () => {
  for (const part of [nginx, upstream, tollgate]) await part?.stop().catch(() => undefined);
});

it('nginx turns a shed check back into 503 overloaded, with Retry-After; the app sees only allowed calls', async () => {
  tollgate = await startTollgate({
    accounts: [{ label: 'ent', tier: 'enterprise' }],
    env: { MAX_INFLIGHT: '1' },
  });
  upstream = await startUpstream();
  nginx = await startNginx({ sidecarPort: tollgate.httpPort, appPort: upstream.port });
  const answers = await Promise.all(
    Array.from({ length: 30 }, async () => {
      const res = await fetch(`http://127.0.0.1:${nginx!.port}/v1/items`, {
        headers: { 'x-api-key': tollgate!.keys.ent! },
      });
      const body = await res.text();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
    }),
  );
  const code = (a: { body: string }) => (JSON.parse(a.body) as { code?: string }).code;
  const shed = answers.filter((a) => a.status === 503 && code(a) === 'overloaded');
  const allowed = answers.filter((a) => a.status === 200);
  // nginx's own proxy_read_timeout (250 ms) on a slow check answers its fail-closed 503 `unavailable`.
  const timedOut = answers.filter((a) => a.status === 503 && code(a) === 'unavailable');
  console.log(
    `[nginx overloaded] ${allowed.length} allowed, ${shed.length} shed, ${timedOut.length} nginx timeouts of ${answers.length}`,
  );
  expect(shed.length).toBeGreaterThan(0);
  expect(allowed.length + shed.length + timedOut.length).toBe(answers.length);
  for (const a of shed) {
    expect(a.retryAfter).toBe('1');
    expect(JSON.parse(a.body)).toMatchObject({ status: 503, code: 'overloaded', title: 'Overloaded' });
  }
  expect(upstream.requests.length).toBe(allowed.length);
});
