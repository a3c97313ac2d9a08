// The exporter does not follow redirects: a webhook receiver answering 307 to elsewhere gets the
// delivery retried, the row ends failed with the status in /admin/outbox, and elsewhere sees nothing.

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { closeHttpServer, listenHttp } from '../../src/transports/http/listen-http.js';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;
let receiver: Server;
let elsewhere: Server;
const hits = { receiver: 0, elsewhere: 0 };

beforeAll(async () => {
  elsewhere = createServer((req, res) => {
    hits.elsewhere++;
    req.resume();
    res.end('ok');
  });
  const elsewherePort = await listenHttp(elsewhere, '127.0.0.1', 0);
  receiver = createServer((req, res) => {
    hits.receiver++;
    req.resume();
    res.writeHead(307, { location: `http://127.0.0.1:${elsewherePort}/stolen` }).end();
  });
  const receiverPort = await listenHttp(receiver, '127.0.0.1', 0);
  tg = await startTollgate({
    accounts: [{ label: 'a', tier: 'pro' }],
    store: 'memory',
    env: {
      EXPORT_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hook`,
      EXPORT_WEBHOOK_SECRET: 'whsec-test-0123456789',
      EXPORT_MAX_ATTEMPTS: '3',
      EXPORT_BACKOFF_BASE_MS: '10',
      EXPORT_BACKOFF_MAX_MS: '20',
      EXPORT_POLL_MS: '20',
    },
  });
  sql = new PostgresSql(tg.databaseUrl);
});
afterAll(async () => {
  await sql.close();
  await tg.stop();
  await closeHttpServer(receiver, 100);
  await closeHttpServer(elsewhere, 100);
});

test('a 307 is a failed delivery: retried, never followed, failed with its status in /admin/outbox', async () => {
  const [row] = await sql.query<{ id: number }>(
    `insert into outbox (kind, account_id, payload) values ('quota.threshold', $1, '{"threshold":0.8}') returning id`,
    [tg.accounts.a],
  );
  const deadline = Date.now() + 20_000;
  let failed: Array<{ id: number; attempts: number; last_error: string }> = [];
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${tg.adminPort}/admin/outbox?state=failed`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    failed = ((await res.json()) as { rows: typeof failed }).rows;
    if (failed.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(failed).toEqual([
    expect.objectContaining({ id: row!.id, attempts: 3, last_error: expect.stringContaining('307') }),
  ]);
  expect(hits.receiver).toBe(3);
  expect(hits.elsewhere).toBe(0);
});
