// Hot revocation across replicas: a key revoked through replica A's admin API is refused by replica B
// within one second (LISTEN/NOTIFY), measured and printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  prepareDatabase,
  startTollgate,
  TEST_ADMIN_TOKEN,
  type PreparedDatabase,
  type TestTollgate,
} from '../support/tollgate.js';

describe('revocation through the admin API reaches every replica', () => {
  let db: PreparedDatabase;
  let a: TestTollgate;
  let b: TestTollgate;
  beforeAll(async () => {
    db = await prepareDatabase({ accounts: [{ label: 'acme', tier: 'enterprise' }] });
    a = await startTollgate({ accounts: [], database: db });
    b = await startTollgate({ accounts: [], database: db });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  const check = async (port: number) =>
    (
      await fetch(`http://127.0.0.1:${port}/check`, {
        headers: { 'x-api-key': db.keys.acme!, 'x-original-uri': '/v1/items', 'x-original-method': 'GET' },
      })
    ).status;

  it('replica B refuses the key within one second of the revoke on replica A', async () => {
    expect(await check(b.httpPort)).toBe(204); // B has the key cached as valid
    const started = performance.now();
    const revoke = await fetch(`http://127.0.0.1:${a.adminPort}/admin/keys/${db.keyIds.acme}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(revoke.status).toBe(200);
    while ((await check(b.httpPort)) !== 401) {
      expect(performance.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 2));
    }
    const ms = performance.now() - started;
    console.log(`revoked on replica A's admin API → refused by replica B after ${ms.toFixed(1)} ms`);
    expect(await check(a.httpPort)).toBe(401);
  });

  it('the admin API refuses a wrong token', async () => {
    const response = await fetch(`http://127.0.0.1:${a.adminPort}/admin/accounts/${db.accounts.acme}`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });
});
