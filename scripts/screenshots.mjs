// `npm run screenshots`: starts the embedded demo, makes some calls, and photographs the console's account and
// policy pages into docs/ for the README (same headless Chromium as test/e2e/console.test.ts). Not run by npm test.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from './launch-chromium.mjs';

const TOKEN = 'screenshots-admin-token-0123456789';
const [HTTP, GRPC, ADMIN] = [18580, 18581, 18582];
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-screenshots-'));
const env = {
  PATH: process.env.PATH ?? '',
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  HTTP_PORT: String(HTTP),
  GRPC_PORT: String(GRPC),
  ADMIN_PORT: String(ADMIN),
  ADMIN_TOKEN: TOKEN,
  USAGE_FLUSH_MS: '200',
  LOG_LEVEL: 'warn',
};
const server = spawn(process.execPath, ['dist/main.js'], { env });
let output = '';
server.stdout.on('data', (c) => (output += c));
server.stderr.on('data', (c) => (output += c));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  for (let i = 0; !/Console: /.test(output); i++) {
    if (i > 600) throw new Error(`the demo did not start:\n${output}`);
    await sleep(100);
  }
  const free = /^\s+free\s+(tg_live_\w+)$/m.exec(output)[1];
  const calls = [
    ['/v1/chat/completions', 'POST', 9],
    ['/v1/embeddings', 'POST', 6],
  ];
  for (const [uri, method, n] of calls)
    for (let i = 0; i < n; i++)
      await fetch(`http://127.0.0.1:${HTTP}/check`, {
        headers: { 'x-api-key': free, 'x-original-uri': uri, 'x-original-method': method },
      });
  await sleep(1000);
  const auth = { authorization: `Bearer ${TOKEN}`, accept: 'application/json' };
  const { accounts } = await (
    await fetch(`http://127.0.0.1:${ADMIN}/admin/accounts?q=demo-free`, { headers: auth })
  ).json();
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const origin = `http://127.0.0.1:${ADMIN}`;
  await page.goto(`${origin}/console`);
  await page.fill('#token', TOKEN);
  await page.click('#signin');
  await page.waitForSelector('#accounts');
  await page.goto(`${origin}/console#/accounts/${accounts[0].id}`);
  await page.waitForSelector('svg[data-chart=current]');
  await page.waitForSelector('#counters table', { timeout: 10_000 }).catch(() => {});
  const renderMs = await page.evaluate('document.getElementById("main").dataset.renderMs');
  await page.screenshot({ path: 'docs/console-account.png', fullPage: false });
  await page.goto(`${origin}/console#/policy`);
  await page.waitForSelector('#tiers');
  await page.screenshot({ path: 'docs/console-policy.png', fullPage: false });
  await browser.close();
  console.log(
    `wrote docs/console-account.png and docs/console-policy.png (account page rendered in ${renderMs} ms)`,
  );
} finally {
  server.kill('SIGTERM');
  await sleep(500);
  rmSync(dataDir, { recursive: true, force: true });
}
