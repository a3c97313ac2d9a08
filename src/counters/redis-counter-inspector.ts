// Admin read of the live counters in Redis: SCAN MATCH on the account's hash tag (in a Cluster, on the
// node that owns the tag's slot), then TYPE, PTTL and the value of each key. Read-only commands only.

import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import { clusterSlot } from './cluster-slot.js';
import { accountTag, type CounterEntry, type CounterInspector } from './counter-inspector.js';

/** An account has a handful of keys (quota, credits, usage, one per limit); this bounds a pathological one. */
const MAX_KEYS = 1000;

export class RedisCounterInspector implements CounterInspector {
  constructor(private readonly redis: Redis | Cluster) {}

  async inspect(accountId: string): Promise<CounterEntry[]> {
    try {
      const keys = (await this.scan(`${globEscape(accountTag(accountId))}:*`, accountTag(accountId))).sort();
      if (keys.length === 0) return [];
      const meta = await this.batch(
        keys.flatMap((key) => [
          ['type', key],
          ['pttl', key],
        ]),
      );
      const types = keys.map((_, i) => String(meta[2 * i]));
      const values = await this.batch(
        keys.map((key, i) =>
          types[i] === 'hash' ? ['hgetall', key] : types[i] === 'string' ? ['get', key] : ['exists', key],
        ),
      );
      const entries: CounterEntry[] = [];
      keys.forEach((key, i) => {
        if (types[i] === 'none') return; // expired between SCAN and TYPE
        const type = types[i] === 'hash' || types[i] === 'string' ? types[i] : 'other';
        const pttl = Number(meta[2 * i + 1]);
        entries.push({
          key,
          type,
          value: type === 'other' ? null : (values[i] as CounterEntry['value']),
          pttlMs: pttl >= 0 ? pttl : null,
        });
      });
      return entries;
    } catch (err) {
      throw new StoreUnavailable(
        'redis',
        `counter inspection failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async scan(pattern: string, tag: string): Promise<string[]> {
    const node = this.nodeFor(tag);
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0' && found.size < MAX_KEYS);
    return [...found].slice(0, MAX_KEYS);
  }

  /** The standalone client, or the Cluster master that serves the tag's slot. */
  private nodeFor(tag: string): Redis {
    if (!isCluster(this.redis)) return this.redis;
    const owner = this.redis.slots[clusterSlot(tag)]?.[0];
    const masters = this.redis.nodes('master');
    const node = masters.find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (!node) throw new Error(`no known Redis Cluster node serves slot ${clusterSlot(tag)}`);
    return node;
  }

  /** One round trip; a key that vanished between SCAN and here reads as null. */
  private async batch(commands: string[][]): Promise<unknown[]> {
    const replies = (await this.redis.pipeline(commands).exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }
}

function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** Redis glob metacharacters matched literally. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
