// Counters: a Lua script shipped next to this module, run by EVALSHA with the EVAL fallback on NOSCRIPT.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');

export class RedisScript {
  readonly source: string;
  readonly sha: string;

  /** `file`: a .lua file in src/counters (the build copies it into dist/counters/). */
  constructor(file: string) {
    this.source = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /** The script cache is per node and volatile (restart, failover, SCRIPT FLUSH): EVAL re-caches it. */
  async run(redis: Redis | Cluster, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return await redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
