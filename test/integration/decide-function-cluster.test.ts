// decide.lua as a Function on a Redis Cluster with one master hung: the others keep deciding, and
// loading the library again (after a FUNCTION FLUSH) is not held behind the hung master.

import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { clusterSlot } from '../../src/counters/cluster-slot.js';
import { LOAD_TIMEOUT_MS } from '../../src/counters/decide-function.js';
import { decideFunction, RedisCounterStore } from '../../src/counters/redis-counter-store.js';
import { chatCall } from '../support/decide-inputs.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';

let cluster: RedisCluster;
beforeAll(async () => {
  // The live masters keep serving their slots while one is down, as in a production Cluster that
  // prefers availability.
  cluster = await startRedisCluster(['--cluster-require-full-coverage', 'no']);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** Port of the master serving each slot, read from CLUSTER SLOTS. */
async function slotOwners(admin: Redis): Promise<(slot: number) => number> {
  const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
  return (slot) => {
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`slot ${slot} is not assigned`);
    return range[2][1];
  };
}

/** `count` account ids whose counters live on the master at `port`. */
function accountsOn(port: number, owner: (slot: number) => number, count: number): string[] {
  const ids: string[] = [];
  while (ids.length < count) {
    const id = `hung-${randomUUID()}`;
    if (owner(clusterSlot(`{a:${id}}`)) === port) ids.push(id);
  }
  return ids;
}

test('a hung master fails only its own slots: the others load the library again and decide', async () => {
  const masters = cluster.nodes.map((node) => new Redis(node));
  const redis = new Cluster(cluster.nodes, {
    enableAutoPipelining: true,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  const store = new RedisCounterStore({ redis });
  const [live1, live2, hung] = masters as [Redis, Redis, Redis];
  const hungPid = Number(/process_id:(\d+)/.exec(await hung.info('server'))![1]);
  try {
    await store.decide(chatCall(`hung-${randomUUID()}`)); // the library is on every master
    const owner = await slotOwners(live1);
    const ports = cluster.nodes.map((node) => node.port);
    const onLive = [...accountsOn(ports[0]!, owner, 8), ...accountsOn(ports[1]!, owner, 8)];

    process.kill(hungPid, 'SIGSTOP');
    await Promise.all([live1.call('FUNCTION', 'FLUSH'), live2.call('FUNCTION', 'FLUSH')]);
    const started = Date.now();
    const first = await Promise.all(onLive.map((id) => store.decide(chatCall(id))));
    expect(first.map((d) => d.allowed)).toEqual(onLive.map(() => true));
    // The load waited for the hung master no longer than its bound.
    expect(Date.now() - started).toBeLessThan(LOAD_TIMEOUT_MS + 1_500);

    // A second flush needs a second load: the first one's hung FUNCTION LOAD does not hold it.
    await live1.call('FUNCTION', 'FLUSH');
    const second = await Promise.all(onLive.map((id) => store.decide(chatCall(id))));
    expect(second.map((d) => d.allowed)).toEqual(onLive.map(() => true));
    for (const master of [live1, live2]) {
      const libraries = (await master.call('FUNCTION', 'LIST')) as unknown[][];
      expect(libraries.map((lib) => String(lib[1]))).toEqual([decideFunction().name]);
    }
  } finally {
    process.kill(hungPid, 'SIGCONT');
    await store.close();
    for (const master of masters) master.disconnect();
  }
}, 30_000);
