// Reference point (what a Node user would pick instead): a node:http /check server limiting with
// rate-limiter-flexible's RateLimiterRedis (ioredis client, CLIENT SETNAME rlflex), keyed by the x-api-key header.
// GET /check      → the allow limiter: the bench-allow limit (1e9 per 1 s fixed window)
// GET /check-deny → the deny limiter: the bench-deny limit (1 per hour), exhausted after one call
// Answers like Tollgate's /check: 204, or 403 + X-Tollgate-Status: 429. It does no key lookup at all.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  connectionName: 'rlflex',
});
const allow = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: 'rlflex-allow',
  points: 1_000_000_000,
  duration: 1,
});
const deny = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: 'rlflex-deny',
  points: 1,
  duration: 3600,
});

function reply(res: ServerResponse, status: number, headers: string[] = []): void {
  res.writeHead(status, headers);
  res.end();
}

const server = createServer(
  {
    maxHeaderSize: 32 * 1024,
    requestTimeout: 15_000,
    headersTimeout: 10_000,
    keepAliveTimeout: 75_000,
    noDelay: true,
  },
  (req, res) => {
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || key === '') return reply(res, 401);
    const limiter = req.url === '/check-deny' ? deny : allow;
    limiter.consume(key).then(
      (r) => reply(res, 204, ['ratelimit-remaining', String(r.remainingPoints)]),
      (err: unknown) => {
        if (err instanceof RateLimiterRes)
          return reply(res, 403, [
            'x-tollgate-status',
            '429',
            'retry-after',
            String(Math.ceil(err.msBeforeNext / 1000)),
          ]);
        reply(res, 500);
      },
    );
  },
);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => server.close(() => void redis.quit().finally(() => process.exit(0))));
