// Usage flushing, Redis side: finds accounts with usage by SCAN and hands it out batch by batch (take-usage.lua).
//
// Discovery trade-off: decide.lua may only touch keys under the account's hash tag, so a global
// "dirty accounts" set would cross slots in a Cluster. Instead each flush SCANs every master for
// `{a:*}:usage*` (COUNT-bounded round trips, never blocking Redis like KEYS). The cost is about
// keys-in-Redis / SCAN_COUNT round trips per flush per replica: negligible up to ~100k keys at a 1 s
// interval; beyond that, raise USAGE_FLUSH_MS, or track the accounts this process counted and scan
// only occasionally (for usage of replicas that died) — the take/ack protocol stays the same.

import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import { usageRows, type UsageBatch, type UsageSource } from '../usage/usage-source.js';
import { RedisScript } from './redis-script.js';

const TAKE = new RedisScript('take-usage.lua');
const ACK = new RedisScript('ack-usage.lua');
/** Keys looked at per SCAN round trip. */
const SCAN_COUNT = 1000;
/** `{a:<id>}:usage` (live) and `{a:<id>}:usage:flushing` (pending batch). */
const USAGE_KEY = /^\{a:(.+)\}:usage(?::flushing)?$/;

const keysOf = (accountId: string) => [`{a:${accountId}}:usage`, `{a:${accountId}}:usage:flushing`];

export class RedisUsageSource implements UsageSource {
  constructor(private readonly redis: Redis | Cluster) {}

  async accounts(): Promise<string[]> {
    const nodes = this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
    const found = new Set<string>();
    await this.wrap('scan', async () => {
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', '{a:*}:usage*', 'COUNT', SCAN_COUNT);
          cursor = next;
          for (const key of keys) {
            const id = USAGE_KEY.exec(key)?.[1];
            if (id !== undefined) found.add(id);
          }
        } while (cursor !== '0');
      }
    });
    return [...found];
  }

  async take(accountId: string, newBatchId: string): Promise<UsageBatch | null> {
    const reply = await this.wrap('take', () => TAKE.run(this.redis, keysOf(accountId), [newBatchId]));
    if (!Array.isArray(reply) || reply.length === 0) return null;
    const [batchId, ...flat] = reply.map(String) as [string, ...string[]];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { batchId, accountId, rows: usageRows(fields) };
  }

  async ack(accountId: string, batchId: string): Promise<void> {
    await this.wrap('ack', () => ACK.run(this.redis, [keysOf(accountId)[1]!], [batchId]));
  }

  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailable(
        'redis',
        `usage ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
}
