// A redis-server of a test file's own, for tests that flush scripts or Functions, read INFO
// commandstats or stop the server: started before the file's tests, stopped after them.

import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisProcess } from './redis-server.js';

export interface PrivateRedis {
  readonly server: RedisProcess;
  /** A plain client on it, for the test's own reads and writes. */
  readonly admin: Redis;
}

/** Registers the file's beforeAll / afterAll; read `server` and `admin` inside tests only. */
export function privateRedis(): PrivateRedis {
  const own = {} as { server: RedisProcess; admin: Redis };
  beforeAll(async () => {
    own.server = await startRedisServer();
    own.admin = new Redis(own.server.url);
  });
  afterAll(async () => {
    own.admin?.disconnect();
    await own.server?.stop();
  });
  return own;
}
