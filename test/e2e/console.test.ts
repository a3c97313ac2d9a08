// The console (/console on ADMIN_PORT) driven in real headless Chromium against a real Tollgate (Postgres).

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSql } from '../../src/db/postgres-sql.js';
import { launchChromium } from '../../scripts/launch-chromium.mjs';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

let tg: TestTollgate;
let sql: PostgresSql;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let origin: string;
const requests: string[] = [];
const T = 30_000;

const check = (key: string, uri = '/v1/chat/completions', method = 'POST') =>
  fetch(`http://127.0.0.1:${tg.httpPort}/check`, {
    headers: { 'x-api-key': key, 'x-original-uri': uri, 'x-original-method': method },
  });

async function signIn(tokenValue = TEST_ADMIN_TOKEN): Promise<void> {
  await page.goto(`${origin}/console`);
  await page.fill('#token', tokenValue);
  await page.click('#signin');
}

beforeAll(async () => {
  tg = await startTollgate({
    accounts: [
      { label: 'demo-free', tier: 'free' },
      { label: 'demo-pro', tier: 'pro' },
    ],
    store: 'memory',
    env: { USAGE_FLUSH_MS: '100', EXPORT_MAX_ATTEMPTS: '3' },
  });
  sql = new PostgresSql(tg.databaseUrl);
  origin = `http://127.0.0.1:${tg.adminPort}`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(T);
  page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('dialog', (d) => void d.accept());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sql?.close();
  await tg?.stop();
});

test('the console is served with a strict CSP and no inline script', async () => {
  const res = await fetch(`${origin}/console`);
  expect(res.status).toBe(200);
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  const html = await res.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  // The API itself stays behind the token.
  expect((await fetch(`${origin}/admin/accounts`)).status).toBe(401);
});

test('a wrong token shows a clear message', async () => {
  await signIn('not-the-token');
  await expect.poll(() => page.textContent('#signin-error'), { timeout: T }).toContain('Wrong admin token');
}, 60_000);

test('sign in, find the demo account, see its usage chart after /check calls', async () => {
  for (let i = 0; i < 3; i++) expect((await check(tg.keys['demo-free']!)).status).toBe(204);
  // Flushed every 100 ms; wait until the daily row is in Postgres.
  await expect
    .poll(async () => (await sql.query('select sum(units)::int as u from usage_daily'))[0]?.u, { timeout: T })
    .toBe(15);
  await signIn();
  await page.fill('#search', 'demo-free');
  await page.click('button[type=submit]');
  await page.click('#accounts a:text("demo-free")');
  await page.waitForSelector('svg[data-chart=current] rect');
  expect(await page.textContent('#usage')).toContain('15 units this period');
  expect(await page.locator('svg[data-chart=current] [data-threshold="quota"]').count()).toBe(1);
  expect(await page.locator('svg[data-chart=current] [data-threshold="80%"]').count()).toBe(1);
}, 90_000);

test('create a key and use it, rotate one and revoke one', async () => {
  await page.click('#create-key');
  const created = (await page.textContent('#secret', { timeout: T }))!;
  expect(created).toMatch(/^tg_live_/);
  expect((await check(created)).status).toBe(204);
  // Rotate the first active key; the replacement works.
  await page.locator('#keys button:text("Rotate")').first().click();
  await expect.poll(() => page.textContent('#new-key'), { timeout: T }).toContain('Replacement');
  const replacement = (await page.textContent('#secret'))!;
  expect(replacement).not.toBe(created);
  expect((await check(replacement)).status).toBe(204);
  // Revoke the key created above: refused from then on.
  const prefix = created.slice(0, 12);
  await page.locator(`#keys tr:has([data-prefix="${prefix}"]) button:text("Revoke")`).click();
  await page.waitForSelector(`#keys tr:has([data-prefix="${prefix}"]) td:text("revoked")`);
  await expect.poll(async () => (await check(created)).status, { timeout: T }).not.toBe(204);
}, 90_000);

test('top up credits twice with one idempotency key: one ledger row', async () => {
  await page.fill('#credit-key', 'console-topup-1');
  await page.fill('#credit-amount', '250');
  await page.click('#topup');
  await page.waitForSelector('#ledger td:text("console-topup-1")');
  await page.fill('#credit-key', 'console-topup-1');
  await page.fill('#credit-amount', '250');
  // The row is already on the page: wait for the replayed top-up's answer and the ledger read after it.
  const replayed = page.waitForResponse(
    (r) => r.url().endsWith('/credits') && r.request().method() === 'POST',
  );
  const reread = page.waitForResponse((r) => r.url().endsWith('/credits') && r.request().method() === 'GET');
  await page.click('#topup');
  expect((await replayed).status()).toBe(200);
  await reread;
  await page.waitForSelector('#ledger td:text("console-topup-1")');
  const rows = await sql.query(
    `select count(*)::int as n from credit_ledger where idempotency_key = 'console-topup-1'`,
  );
  expect(rows[0]!.n).toBe(1);
  expect(await page.locator('#ledger td:text("console-topup-1")').count()).toBe(1);
}, 60_000);

test('policy: an error is shown and nothing is saved; a valid change is saved and served', async () => {
  await page.goto(`${origin}/console#/policy`);
  const stored = (await page.inputValue('#policy-editor'))!;
  await page.fill('#policy-editor', stored.replace('limit: 10\n', 'limit: -3\n'));
  await page.click('#policy-validate');
  const errors = (await page.textContent('#policy-errors'))!;
  expect(errors).toMatch(/line \d+: tiers\.free\.limits\[0\]\.limit/);
  expect(await page.isDisabled('#policy-save')).toBe(true);
  const [{ n }] = (await sql.query(
    `select count(*)::int as n from audit_log where action = 'policy.replace'`,
  )) as [{ n: number }];
  expect(n).toBe(0);
  await page.fill('#policy-editor', stored.replace('limit: 10\n', 'limit: 7\n'));
  await page.click('#policy-validate');
  await page.waitForSelector('#policy-diff .diff-add');
  expect(await page.textContent('#policy-diff')).toContain('+');
  await page.click('#policy-save');
  await page.waitForSelector('#policy-saved');
  const res = await check(tg.keys['demo-free']!, '/v1/other', 'GET');
  expect(res.headers.get('ratelimit-policy')).toContain('"per-minute";q=7;w=60');
}, 90_000);

test('operations: retry a failed outbox row', async () => {
  const [row] = await sql.query<{ id: number }>(
    `insert into outbox (kind, account_id, payload, attempts, last_error) values ('usage', $1, '{"units":5}', 3, 'webhook answered 500') returning id`,
    [tg.accounts['demo-free']],
  );
  await page.goto(`${origin}/console#/operations`);
  await page.click(`#outbox-failed tr[data-outbox="${row!.id}"] button`);
  await expect.poll(() => page.textContent('#ops-out'), { timeout: T }).toContain(`Row ${row!.id} queued`);
  const [after] = await sql.query<{ attempts: number }>('select attempts from outbox where id = $1', [
    row!.id,
  ]);
  expect(after!.attempts).toBe(0);
  expect(await page.textContent('#replica')).toMatch(/Healthy|DEGRADED/);
}, 60_000);

test('the account page works at 375 px wide', async () => {
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(`${origin}/console#/accounts/${tg.accounts['demo-free']}`);
  await page.waitForSelector('svg[data-chart=current]');
  const width = await page.evaluate('document.documentElement.scrollWidth');
  expect(width).toBeLessThanOrEqual(375);
  expect(await page.isVisible('#create-key')).toBe(true);
  await page.setViewportSize({ width: 1100, height: 900 });
}, 60_000);

test('no request left the sidecar origin', () => {
  expect(requests.length).toBeGreaterThan(10);
  expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
});
