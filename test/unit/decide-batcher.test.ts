// DecideBatcher's own logic (which calls share a send, in what order, how errors reach whom); the
// real-Redis side of batching is test/integration/decide-batch.test.ts.

import { expect, test } from 'vitest';
import { DecideBatcher, type DecideCall } from '../../src/counters/decide-batcher.js';

/** A send that holds each batch until released, recording what was sent. */
function heldSend() {
  const sent: string[][] = [];
  const releases: Array<(replies: unknown[] | Error) => void> = [];
  const send = (calls: DecideCall[]) => {
    sent.push(calls.map((c) => c.keys[0]!));
    return new Promise<unknown[]>((resolve, reject) =>
      releases.push((r) => (r instanceof Error ? reject(r) : resolve(r))),
    );
  };
  return { sent, releases, send };
}
const call = (key: string): DecideCall => ({ keys: [key], args: [] });
/** Past the batcher's own end-of-turn send, also one that a reply handled meanwhile scheduled. */
const tick = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

test('idle: each call goes out at the end of its turn, alone', async () => {
  const { sent, releases, send } = heldSend();
  const batcher = new DecideBatcher(send, 2, 32);
  const a = batcher.run(call('a'));
  expect(sent).toEqual([]);
  await tick();
  expect(sent).toEqual([['a']]);
  releases[0]!(['A']);
  expect(await a).toBe('A');
  const b = batcher.run(call('b'));
  await tick();
  expect(sent).toEqual([['a'], ['b']]);
  releases[1]!(['B']);
  expect(await b).toBe('B');
});

test('calls of one turn go together, in arrival order', async () => {
  const { sent, releases, send } = heldSend();
  const batcher = new DecideBatcher(send, 1, 32);
  const results = ['a', 'b', 'c'].map((k) => batcher.run(call(k)));
  await tick();
  expect(sent).toEqual([['a', 'b', 'c']]);
  releases[0]!(['A', 'B', 'C']);
  expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
});

test('busy: calls wait for a reply, then go together in arrival order, at most maxBatch per send', async () => {
  const { sent, releases, send } = heldSend();
  const batcher = new DecideBatcher(send, 2, 3);
  const results = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((k) => batcher.run(call(k)));
  await tick();
  expect(sent).toEqual([
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
  ]); // two in flight; the rest wait
  releases[0]!(['A', 'B', 'C']);
  await tick();
  expect(sent).toEqual([
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
    ['g', 'h', 'i'],
  ]);
  const late = batcher.run(call('j'));
  await tick();
  expect(sent).toHaveLength(3); // both still out
  releases[1]!(['D', 'E', 'F']);
  await tick();
  expect(sent[3]).toEqual(['j']);
  releases[2]!(['G', 'H', 'I']);
  releases[3]!(['J']);
  expect(await Promise.all([...results, late])).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
});

test('an Error in the replies fails that call alone; a failed send fails its whole batch only', async () => {
  const { releases, send } = heldSend();
  const batcher = new DecideBatcher(send, 1, 32);
  const first = batcher.run(call('a'));
  await tick();
  const batch = ['b', 'c', 'd'].map((k) => batcher.run(call(k)));
  releases[0]!(new Error('connection lost'));
  await expect(first).rejects.toThrow('connection lost');
  await tick();
  const wrongType = new Error('WRONGTYPE');
  releases[1]!(['B', wrongType, 'D']);
  const settled = await Promise.allSettled(batch);
  expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
    'B',
    'WRONGTYPE',
    'D',
  ]);
  // Still working afterwards.
  const after = batcher.run(call('e'));
  await tick();
  releases[2]!(['E']);
  expect(await after).toBe('E');
});
