// Reference point (the ceiling of the HTTP path): a no-op node:http server with Tollgate's server
// options, answering 204 to everything. Prints its port on stdout. With REDIS_URL, it first counts the
// x-api-key in Redis, batched as Tollgate batches (batched-incr.ts): the floor with Redis. With
// BOOKS_DATABASE_URL as well, it also keeps and flushes usage as Tollgate does (books.ts): the floor
// with Redis and the books.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { batchedIncr } from './batched-incr.js';
import { booksCounter } from './books.js';

const env = process.env;
const count = !env.REDIS_URL
  ? undefined
  : env.BOOKS_DATABASE_URL
    ? await booksCounter({
        redisUrl: env.REDIS_URL,
        databaseUrl: env.BOOKS_DATABASE_URL,
        keysFile: env.BOOKS_KEYS_FILE!,
        tier: env.BOOKS_TIER!,
        flushMs: env.BOOKS_FLUSH_MS,
      })
    : batchedIncr(env.REDIS_URL);

const server = createServer(
  {
    maxHeaderSize: 32 * 1024,
    requestTimeout: 15_000,
    headersTimeout: 10_000,
    keepAliveTimeout: 75_000,
    noDelay: true,
  },
  (req, res) => {
    if (!count) {
      res.writeHead(204);
      res.end();
      return;
    }
    void count(String(req.headers['x-api-key'])).then(
      () => {
        res.writeHead(204);
        res.end();
      },
      () => {
        res.writeHead(503);
        res.end();
      },
    );
  },
);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
