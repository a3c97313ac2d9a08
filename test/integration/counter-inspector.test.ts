// CounterInspector on a real Redis Cluster (SCAN on the node that owns the account's slot) and in process:
// the same key names, values and time to live for the same decisions.

import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { CounterInspector } from '../../src/counters/counter-inspector.js';
import type { CounterStore, DecideInput } from '../../src/counters/counter-store.js';
import { clusterSlot } from '../../src/counters/cluster-slot.js';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { openCounterInspector } from '../../src/counters/open-counter-inspector.js';
import { RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';

const input = (accountId: string): DecideInput => ({
  accountId,
  anchorDay: 1,
  units: 2,
  quota: { limit: 100, overage: false },
  credits: { cost: 3, seed: 10 },
  endpoint: 'chat',
  limits: [
    {
      id: 't:minute',
      name: 'minute',
      algorithm: 'fixed_window',
      limit: 10,
      windowMs: 60_000,
      shadow: false,
      hits: 1,
    },
  ],
});

async function expectSameShape(
  store: CounterStore,
  inspector: CounterInspector,
  accountId: string,
): Promise<void> {
  await store.decide(input(accountId));
  const entries = await inspector.inspect(accountId);
  const tag = `{a:${accountId}}`;
  expect(entries.map((e) => e.key)).toEqual([`${tag}:credits`, `${tag}:quota`, `${tag}:usage`]);
  const byKey = Object.fromEntries(entries.map((e) => [e.key.slice(tag.length + 1), e]));
  expect(byKey.credits).toMatchObject({ type: 'string', value: '7', pttlMs: null });
  // One hash per account: the quota and the limit's window state.
  expect(byKey.quota).toMatchObject({ type: 'hash', value: { u: '2', 'l:t:minute:c': '1' } });
  expect(byKey.quota!.pttlMs).toBeGreaterThan(60_000);
  expect(byKey.usage!.value).toEqual(
    expect.objectContaining({ [`${(byKey.quota!.value as Record<string, string>).p}|chat|calls`]: '1' }),
  );
  expect(await inspector.inspect(`${accountId}x`)).toEqual([]);
}

describe('Redis Cluster', () => {
  let cluster: RedisCluster;
  let redis: Cluster;
  let inspector: CounterInspector;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = new Cluster(cluster.nodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
    await redis.connect();
    inspector = await openCounterInspector(loadConfig({ REDIS_CLUSTER_NODES: cluster.env }));
  }, 60_000);
  afterAll(async () => {
    await inspector?.close();
    redis?.disconnect();
    await cluster?.stop();
  });

  it('finds each account on the node that owns its slot', async () => {
    const store = new RedisCounterStore({ redis });
    const accounts = Array.from({ length: 6 }, (_, i) => `acc_inspect${i}`);
    expect(new Set(accounts.map((a) => Math.floor(clusterSlot(`{a:${a}}`) / 5462))).size).toBeGreaterThan(1); // more than one node
    for (const accountId of accounts) await expectSameShape(store, inspector, accountId);
  });
});

describe('in-process counters', () => {
  it('shows the same keys as Redis would hold', async () => {
    const store = new MemoryCounterStore();
    const inspector = await openCounterInspector(loadConfig({}), store);
    await expectSameShape(store, inspector, 'acc_memory');
  });
});
