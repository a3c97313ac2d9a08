// A Tollgate replica as a real process for the usage/invalidation e2e tests, built from dist/ with the
// usage flusher and change listener wired as the composition root will wire them (until src/app.ts does).
// Env: DATABASE_URL, REDIS_URL, USAGE_FLUSH_MS, KEY_CACHE_TTL_MS. Serves GET /check (x-api-key,
// X-Original-URI, X-Original-Method) → 204 allowed | the denial's status | 503 on a store failure.
// Prints "listening <port>". SIGTERM: stop serving, flush usage once more, exit 0.

import { createServer } from 'node:http';

const dist = new URL('../../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { loadConfig } = await load('config.js');
const { PostgresSql } = await load('db/postgres-sql.js');
const { openCounterStore } = await load('counters/open-counter-store.js');
const { openUsageStore } = await load('counters/open-usage-store.js');
const { PolicyHolder } = await load('policy/policy-holder.js');
const { CachedKeyStore } = await load('keys/cached-key-store.js');
const { SqlKeyStore } = await load('keys/sql-key-store.js');
const { createCheckAccess } = await load('access/create-check-access.js');
const { startChangeListener } = await load('changes/start-change-listener.js');
const { startUsageFlusher } = await load('usage/start-usage-flusher.js');
const { createLogger } = await load('logger.js');

const config = loadConfig();
const logger = createLogger(config.logLevel);
const sql = new PostgresSql(config.database.url, { connectTimeoutSec: 1 });
const counters = await openCounterStore(config);
const usage = await openUsageStore(config);
const policy = await PolicyHolder.load(sql, logger, 30_000);
const keys = new CachedKeyStore({
  inner: new SqlKeyStore(sql, { timeoutMs: 1000 }),
  ttlMs: Number(process.env.KEY_CACHE_TTL_MS ?? 60_000),
});
const checkAccess = createCheckAccess({ keys, policy: () => policy.current, counters });
const listener = await startChangeListener({ sql, keys, policy, credits: usage.credits, logger });
const flusher = startUsageFlusher({ sources: [usage.source], sql, logger, intervalMs: config.usageFlushMs });

const server = createServer((req, res) => {
  const request = {
    transport: 'http',
    apiKey: req.headers['x-api-key'],
    keyHeader: 'x-api-key',
    spoofedHeaders: [],
    method: String(req.headers['x-original-method'] ?? 'GET'),
    path: String(req.headers['x-original-uri'] ?? '/'),
  };
  checkAccess(request).then(
    (d) =>
      res.writeHead(d.allowed ? 204 : d.status, { 'x-tollgate-code': d.allowed ? 'allowed' : d.code }).end(),
    () => res.writeHead(503, { 'x-tollgate-code': 'unavailable' }).end(),
  );
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  await flusher.stop();
  await listener.stop();
  policy.close();
  await Promise.all([counters.close(), usage.close()]);
  await sql.close();
  process.exit(0);
});
