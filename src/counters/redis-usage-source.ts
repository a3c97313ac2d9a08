// Usage flushing, Redis side: finds accounts with usage and hands it out in batches (take-usage.lua).
//
// Discovery: decide.lua may only touch keys under the account's hash tag, so there is no global
// "dirty accounts" set in Redis. Each process instead remembers the accounts it counted
// (CountedAccounts) and a flush visits those. Now and then — the first flush, every FULL_SCAN_MS, and
// after a failure — it SCANs every master for `{a:*}:usage*` (COUNT-bounded round trips, never
// blocking Redis like KEYS), which finds the usage of replicas that died and of anything the tracking
// missed (a reply lost with the connection). Take and ack run ACCOUNTS_PER_SCRIPT accounts per call.

import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailable } from '../errors.js';
import type { CountedAccounts } from '../usage/counted-accounts.js';
import {
  usageBatchOfPairs,
  type TakeRequest,
  type UsageBatch,
  type UsageSource,
} from '../usage/usage-source.js';
import { clusterSlot } from './cluster-slot.js';
import { RedisScript } from './redis-script.js';

const TAKE = new RedisScript('take-usage.lua');
const ACK = new RedisScript('ack-usage.lua');
/** Keys looked at per SCAN round trip. */
const SCAN_COUNT = 1000;
/**
 * At most this many accounts per take or ack script call: 100,000 active accounts cost 2,000 calls
 * per flush, not 200,000.
 */
export const ACCOUNTS_PER_SCRIPT = 100;
/** At least this many per call (fewer only when the flush has fewer). */
const MIN_ACCOUNTS_PER_SCRIPT = 10;
/** Take calls a flush is spread over before its calls grow past the minimum. */
const CALLS_PER_FLUSH = 100;

/** With tracking, how often a flush also scans Redis for usage nobody here counted. */
const FULL_SCAN_MS = 60_000;
/** `{a:<id>}:usage` (live) and `{a:<id>}:usage:flushing` (pending batch). */
const USAGE_KEY = /^\{a:(.+)\}:usage(?::flushing)?$/;

/**
 * Accounts per take call in a flush of `accounts` (an ack call always takes up to 100: 1.5 µs per
 * account). Redis runs a call whole while decisions wait behind it, and a take costs it 5-10 µs per
 * account, so a flush makes its take calls as small as the call count allows: 1,000 accounts, 100
 * takes of 10; 100,000 accounts, 1,000 takes of 100.
 * At 2,000 decisions/s over 1,000 accounts, /check's p99 with calls of 10 was below that with
 * calls of 100 in 12 of 14 alternated pairs of runs (medians 8.2 vs 16.3 ms, then 12.6 vs 16.7).
 */
export function accountsPerScript(accounts: number): number {
  const spread = Math.ceil(accounts / CALLS_PER_FLUSH);
  return Math.min(ACCOUNTS_PER_SCRIPT, Math.max(MIN_ACCOUNTS_PER_SCRIPT, spread));
}

export interface RedisUsageSourceOptions {
  /** The accounts the decision path counted; without it every flush scans Redis. */
  counted?: CountedAccounts;
  /** Clock for the scan schedule (tests). */
  now?: () => number;
}

export class RedisUsageSource implements UsageSource {
  private readonly counted: CountedAccounts | undefined;
  private readonly now: () => number;
  /** When the last full scan succeeded; undefined = one is due. */
  private scannedAt: number | undefined;
  /** Accounts handed out and not yet seen through (batch acked, or nothing to take): retried. */
  private readonly open = new Set<string>();
  /** Accounts per script call, sized to the accounts the last listing handed out. */
  private perScript = ACCOUNTS_PER_SCRIPT;

  constructor(
    private readonly redis: Redis | Cluster,
    options: RedisUsageSourceOptions = {},
  ) {
    this.counted = options.counted;
    this.now = options.now ?? Date.now;
  }

  /**
   * Grouped by the node that serves them (a Cluster), so a flush's slices of 100 accounts are each
   * one take and one ack call, not one per master.
   */
  async accounts(): Promise<string[]> {
    if (this.counted) {
      const { ids, complete } = this.counted.drain();
      for (const id of ids) this.open.add(id);
      if (!complete) this.scannedAt = undefined;
      const due = this.scannedAt === undefined || this.now() - this.scannedAt >= FULL_SCAN_MS;
      if (!due) return this.listed([...this.open]);
    }
    const startedAt = this.now();
    const found = await this.scan();
    // The scan saw every account with usage or a pending batch: the open ones it missed are done.
    this.open.clear();
    for (const id of found) this.open.add(id);
    if (this.counted) for (const id of this.counted.drain().ids) this.open.add(id);
    this.scannedAt = startedAt;
    return this.listed([...this.open]);
  }

  /** The accounts a flush is handed; its script calls are sized to how many there are. */
  private listed(ids: string[]): string[] {
    this.perScript = accountsPerScript(ids.length);
    return this.byNodeOrder(ids);
  }

  private byNodeOrder(ids: string[]): string[] {
    if (!this.redis.isCluster) return ids;
    return [...this.byNode(ids.map((accountId) => ({ accountId }))).values()].flat().map((a) => a.accountId);
  }

  async take(accountId: string, newBatchId: string): Promise<UsageBatch | null> {
    return (await this.takeMany([{ accountId, newBatchId }]))[0] ?? null;
  }

  async ack(accountId: string, batchId: string): Promise<void> {
    await this.ackMany([{ accountId, batchId, rows: [] }]);
  }

  async takeMany(requests: readonly TakeRequest[]): Promise<(UsageBatch | null)[]> {
    const batches = new Map<string, UsageBatch | null>();
    await this.wrap('take', () =>
      this.perCall(requests, async (group) => {
        const args = group.flatMap((r) => [r.accountId, r.newBatchId]);
        const replies = await TAKE.run(this.redis, [`{a:${group[0]!.accountId}}:usage`], args);
        if (!Array.isArray(replies) || replies.length !== group.length)
          throw new Error(`take-usage.lua answered ${String(replies)} for ${group.length} accounts`);
        group.forEach((request, i) => batches.set(request.accountId, toBatch(request.accountId, replies[i])));
      }),
    );
    batches.forEach((batch, accountId) => batch === null && this.open.delete(accountId));
    return requests.map((r) => batches.get(r.accountId) ?? null);
  }

  async ackMany(batches: readonly UsageBatch[]): Promise<void> {
    // An ack costs Redis about 1.5 µs per account and 30 µs per call: always the largest calls.
    await this.wrap('ack', () =>
      this.perCall(
        batches,
        async (group) => {
          const args = group.flatMap((b) => [b.accountId, b.batchId]);
          await ACK.run(this.redis, [`{a:${group[0]!.accountId}}:usage:flushing`], args);
        },
        ACCOUNTS_PER_SCRIPT,
      ),
    );
    for (const batch of batches) this.open.delete(batch.accountId);
  }

  /**
   * `fn` once per group of at most `size` items whose keys live on one node (a Cluster groups by the
   * master serving each account's slot), one call at a time: decisions go in between.
   */
  private async perCall<T extends { accountId: string }>(
    items: readonly T[],
    fn: (group: T[]) => Promise<void>,
    size = this.perScript,
  ): Promise<void> {
    for (const nodeItems of this.byNode(items).values())
      for (let i = 0; i < nodeItems.length; i += size) await fn(nodeItems.slice(i, i + size));
  }

  private byNode<T extends { accountId: string }>(items: readonly T[]): Map<string, T[]> {
    const groups = new Map<string, T[]>();
    const slots = this.redis.isCluster ? (this.redis as Cluster).slots : undefined;
    for (const item of items) {
      let node = '';
      if (slots) {
        const slot = clusterSlot(`{a:${item.accountId}}`);
        // Slots not known yet: one group per slot is always local to one node.
        node = slots[slot]?.[0] ?? `slot:${slot}`;
      }
      const group = groups.get(node);
      if (group) group.push(item);
      else groups.set(node, [item]);
    }
    return groups;
  }

  private async scan(): Promise<Set<string>> {
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
    return found;
  }

  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // What failed may have been half done (a Cluster slot that moved): scan next time, miss nothing.
      this.scannedAt = undefined;
      throw new StoreUnavailable(
        'redis',
        `usage ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
}

/** One account's reply of take-usage.lua: {} = nothing to flush; else { batchId, field, value, ... }. */
function toBatch(accountId: string, reply: unknown): UsageBatch | null {
  if (!Array.isArray(reply) || reply.length === 0) return null;
  return usageBatchOfPairs(String(reply[0]), accountId, reply, 1);
}
