// The decision connection's pre-encoded EVALSHA: the bytes are what ioredis itself would write for
// the same command, and it runs on a real Redis, NOSCRIPT included.

import { createHash } from 'node:crypto';
import { Command, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand, evalshaEncoded } from '../../src/counters/encoded-evalsha.js';
import { REDIS_URL } from '../support/tollgate.js';

const script = (source: string) => ({ source, sha: createHash('sha1').update(source).digest('hex') });

describe('encodeCommand', () => {
  it('writes the bytes ioredis writes for the same arguments (ASCII, UTF-8, empty, long)', () => {
    // 'abcdefgh€': ASCII up to its last character, whose UTF-8 length has one digit more (11 bytes).
    const args = ['{a:acc_1}:quota', '', 'ünïcødé €', 'abcdefgh€', 'x'.repeat(70_000), '1234567890'];
    const ours = encodeCommand([['evalsha', 'abc', '2'], args.slice(0, 2), [], args.slice(2)]);
    const theirs = new Command('evalsha', ['abc', '2', ...args]).toWritable({});
    expect(ours.equals(Buffer.from(theirs as string, 'utf8'))).toBe(true);
    // Without the long one, the command fits the shared buffer and is copied out of it.
    const short = args.filter((a) => a.length < 100);
    const copied = encodeCommand([['evalsha', 'abc', '2'], short]);
    const expected = new Command('evalsha', ['abc', '2', ...short]).toWritable({});
    encodeCommand([['overwrites', 'the', 'shared', 'buffer']]);
    expect(copied.equals(Buffer.from(expected as string, 'utf8'))).toBe(true);
  });
});

describe('evalshaEncoded on Redis', () => {
  let redis: Redis;
  // A script only this test loads; the script cache is flushed first, so the first call meets NOSCRIPT.
  const echo = script("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], 'encoded-evalsha-test'}");

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect().catch((err) => {
      throw new Error(`Redis at ${REDIS_URL} is not answering: ${err}`);
    });
    await redis.script('FLUSH');
  });
  afterAll(() => redis?.quit());

  it('runs with KEYS and ARGV from lists, loading the script on NOSCRIPT, then by its sha', async () => {
    for (let i = 0; i < 2; i++)
      expect(await evalshaEncoded(redis, echo, [['k1'], ['k2']], [['a'], [], ['b', 'ü']])).toEqual([
        'k1',
        'k2',
        'a',
        'b',
        'ü',
        'encoded-evalsha-test',
      ]);
    expect(await redis.script('EXISTS', echo.sha)).toEqual([1]);
  });

  it('rejects with the Redis error of a failing script', async () => {
    await expect(evalshaEncoded(redis, script("return redis.error_reply('boom')"), [], [])).rejects.toThrow(
      'boom',
    );
  });
});
