// The key cache in front of Postgres: TTLs, negative cache, coalescing, stale-on-error, bounds, invalidation.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKey, revokeKey } from '../../src/accounts/api-keys.js';
import { createAccount } from '../../src/accounts/create-account.js';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import { StoreUnavailable } from '../../src/errors.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { CachedKeyStore } from '../../src/keys/cached-key-store.js';
import type { KeyRecord, KeyStore } from '../../src/keys/key-store.js';
import { SqlKeyStore } from '../../src/keys/sql-key-store.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { freshPglite } from '../support/databases.js';

const record = (keyId: string): KeyRecord => ({
  keyId,
  accountId: 'acc_aaaaaaaaaaaaaaaa',
  tier: 'free',
  accountStatus: 'active',
  expiresAt: null,
  revoked: false,
  billingAnchorDay: 1,
  creditBalance: 0,
});

/** A small in-memory KeyStore that counts calls and can be made to fail or to wait. */
class MemoryKeyStore implements KeyStore {
  readonly records = new Map<string, KeyRecord>();
  calls = 0;
  failure: Error | undefined;
  gate: Promise<void> | undefined;

  async findByHash(hash: string): Promise<KeyRecord | null> {
    this.calls++;
    await this.gate;
    if (this.failure) throw this.failure;
    return this.records.get(hash) ?? null;
  }
}

function setup(
  options: {
    ttlMs?: number;
    negativeTtlMs?: number;
    maxEntries?: number;
    staleRetryMs?: number;
    renewalDelayMs?: number;
  } = {},
) {
  const inner = new MemoryKeyStore();
  const clock = { now: 1_000_000 };
  const cache = new CachedKeyStore({ inner, now: () => clock.now, jitter: () => 0, ...options });
  return { inner, clock, cache };
}

/** Real time passing: a renewal round is a real timer (the cache's clock only judges freshness). */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CachedKeyStore', () => {
  test('findCached answers a held key without a promise, the same as findByHash, and counts like it', async () => {
    const lookups: string[] = [];
    const inner = new MemoryKeyStore();
    const clock = { now: 1_000_000 };
    const cache = new CachedKeyStore({
      inner,
      now: () => clock.now,
      jitter: () => 0,
      ttlMs: 1_000,
      negativeTtlMs: 1_000,
      onLookup: (result) => lookups.push(result),
    });
    inner.records.set('h1', record('key_1'));
    // Not held: undefined, and nothing counted or loaded (findByHash counts the miss and loads).
    expect(cache.findCached('h1')).toBeUndefined();
    expect(lookups).toEqual([]);
    expect(inner.calls).toBe(0);
    expect(await cache.findByHash('h1')).toEqual(record('key_1'));
    expect(await cache.findByHash('h2')).toBeNull();
    expect(cache.findCached('h1')).toEqual(record('key_1'));
    expect(cache.findCached('h2')).toBeNull();
    expect(lookups).toEqual(['miss', 'miss', 'hit', 'negative_hit']);
    // Stale within one more TTL: still answered, and renewed in the background as findByHash does.
    clock.now += 1_000;
    inner.records.set('h1', { ...record('key_1'), revoked: true });
    expect(cache.findCached('h1')).toMatchObject({ revoked: false });
    await sleep(40);
    expect(inner.calls).toBe(3);
    expect(cache.findCached('h1')).toMatchObject({ revoked: true });
    // Past two TTLs: no answer from memory; the lookup must wait for a load.
    clock.now += 2_000;
    expect(cache.findCached('h1')).toBeUndefined();
    expect(inner.calls).toBe(3);
  });

  test('serves a found key from memory until its TTL, then refreshes it ahead without making a lookup wait', async () => {
    const { inner, clock, cache } = setup({ ttlMs: 1_000 });
    inner.records.set('h1', record('key_1'));
    expect(await cache.findByHash('h1')).toEqual(record('key_1'));
    clock.now += 999;
    inner.records.set('h1', { ...record('key_1'), revoked: true });
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: false });
    expect(inner.calls).toBe(1);
    clock.now += 1;
    // Stale within one more TTL: answered at once from memory; a background load renews it shortly.
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: false });
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: false });
    expect(inner.calls).toBe(1);
    await sleep(40);
    expect(inner.calls).toBe(2); // one renewal, however many lookups found it stale
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: true });
    expect(inner.calls).toBe(2);
  });

  test('an entry older than two TTLs is not served: the lookup waits for Postgres', async () => {
    const { inner, clock, cache } = setup({ ttlMs: 1_000 });
    inner.records.set('h1', record('key_1'));
    await cache.findByHash('h1');
    inner.records.set('h1', { ...record('key_1'), revoked: true });
    clock.now += 2_000;
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: true });
    expect(inner.calls).toBe(2);
  });

  test('keys loaded together are renewed over the last quarter of the TTL, not all at once', async () => {
    const inner = new MemoryKeyStore();
    const clock = { now: 1_000_000 };
    let next = 0;
    const jitter = () => (next++ % 100) / 100; // as evenly as Math.random in the long run
    const cache = new CachedKeyStore({
      inner,
      now: () => clock.now,
      ttlMs: 60_000,
      jitter,
      renewalDelayMs: 0,
    });
    for (let i = 0; i < 100; i++) inner.records.set(`h${i}`, record(`key_${i}`));
    for (let i = 0; i < 100; i++) await cache.findByHash(`h${i}`);
    const renewedBy = async (ms: number) => {
      clock.now = 1_000_000 + ms;
      const before = inner.calls;
      for (let i = 0; i < 100; i++) await cache.findByHash(`h${i}`);
      await sleep(20); // their renewals complete
      return inner.calls - before;
    };
    expect(await renewedBy(44_999)).toBe(0); // fresh for at least three quarters of the TTL
    expect(await renewedBy(52_500)).toBe(50); // half of them within the next 7.5 s
    expect(await renewedBy(60_000)).toBe(50); // the rest by the TTL
  });

  test('stale entries found one by one are renewed in rounds of up to 100 asked for in one turn', async () => {
    // Long enough that the 150 finds below end before the first round, also on a loaded machine (at
    // 30 ms, a full suite run once saw the round start midway: 211 calls).
    const delay = 300;
    const { inner, clock, cache } = setup({ ttlMs: 1_000, renewalDelayMs: delay });
    for (let i = 0; i < 150; i++) inner.records.set(`h${i}`, record(`key_${i}`));
    for (let i = 0; i < 150; i++) await cache.findByHash(`h${i}`);
    clock.now += 1_000;
    let open!: () => void;
    inner.gate = new Promise((resolve) => (open = resolve));
    const turns: number[] = [];
    const innerFind = inner.findByHash.bind(inner);
    let turn = 0;
    const ticker = setInterval(() => turn++, 1);
    inner.findByHash = (hash) => {
      turns.push(turn);
      return innerFind(hash);
    };
    // As traffic resuming after a pause finds them: one per turn, every one answered at once.
    for (let i = 0; i < 150; i++) {
      expect(await cache.findByHash(`h${i}`)).not.toBeNull();
      await new Promise((r) => setImmediate(r));
    }
    expect(await cache.findByHash('h0')).not.toBeNull(); // found stale again: still one renewal
    expect(inner.calls).toBe(150);
    await sleep(delay + 60);
    expect(inner.calls).toBe(150 + 100); // the first round, while its loads are out
    expect(new Set(turns).size).toBe(1); // asked for in one turn: one query for SqlKeyStore
    open();
    inner.gate = undefined;
    await sleep(delay + 80);
    clearInterval(ticker);
    expect(inner.calls).toBe(150 + 150); // then the rest, in a second round
    expect(new Set(turns).size).toBe(2);
  });

  test('a hit returns the same settled promise: no allocation on the hot path', async () => {
    const { inner, cache } = setup();
    inner.records.set('h1', record('key_1'));
    await cache.findByHash('h1');
    expect(cache.findByHash('h1')).toBe(cache.findByHash('h1'));
  });

  test('unknown hashes are cached for the negative TTL', async () => {
    const { inner, clock, cache } = setup({ negativeTtlMs: 500 });
    expect(await cache.findByHash('nope')).toBeNull();
    expect(await cache.findByHash('nope')).toBeNull();
    expect(inner.calls).toBe(1);
    inner.records.set('nope', record('key_new'));
    clock.now += 500;
    // Refreshed ahead like a found key (a created key also arrives by notification, see invalidate).
    expect(await cache.findByHash('nope')).toBeNull();
    await sleep(40);
    expect(await cache.findByHash('nope')).toEqual(record('key_new'));
    expect(inner.calls).toBe(2);
  });

  test('100 concurrent lookups of one uncached hash make one inner call', async () => {
    const { inner, cache } = setup();
    inner.records.set('h1', record('key_1'));
    let open!: () => void;
    inner.gate = new Promise((resolve) => (open = resolve));
    const lookups = Array.from({ length: 100 }, () => cache.findByHash('h1'));
    open();
    const results = await Promise.all(lookups);
    expect(inner.calls).toBe(1);
    expect(results.every((r) => r?.keyId === 'key_1')).toBe(true);
  });

  test('when the inner store is down, a stale entry is served and retried only every staleRetryMs', async () => {
    const { inner, clock, cache } = setup({ ttlMs: 1_000, staleRetryMs: 5_000 });
    inner.records.set('h1', record('key_1'));
    await cache.findByHash('h1');
    await cache.findByHash('unknown');
    inner.failure = new StoreUnavailable('postgres', 'connection refused');
    clock.now += 60_000;
    expect(await cache.findByHash('h1')).toEqual(record('key_1'));
    expect(await cache.findByHash('unknown')).toBeNull();
    expect(inner.calls).toBe(4);
    clock.now += 4_999;
    expect(await cache.findByHash('h1')).toEqual(record('key_1'));
    expect(inner.calls).toBe(4);
    // Never seen before: nothing to serve, the failure propagates.
    await expect(cache.findByHash('h2')).rejects.toBeInstanceOf(StoreUnavailable);
    // Any other error is a bug, not an outage: it propagates even with a stale entry.
    inner.failure = new TypeError('bug');
    clock.now += 5_000;
    await expect(cache.findByHash('h1')).rejects.toBeInstanceOf(TypeError);
    inner.failure = undefined;
    expect(await cache.findByHash('h1')).toEqual(record('key_1'));
  });

  test('each cache is bounded, oldest first; unknown hashes cannot evict found keys', async () => {
    const { inner, cache } = setup({ maxEntries: 3 });
    for (const h of ['a', 'b', 'c', 'd']) inner.records.set(h, record(`key_${h}`));
    for (const h of ['a', 'b', 'c', 'd']) await cache.findByHash(h);
    for (let i = 0; i < 50; i++) await cache.findByHash(`random-${i}`);
    expect(cache.size).toEqual({ found: 3, unknown: 3 });
    const calls = inner.calls;
    for (const h of ['b', 'c', 'd']) await cache.findByHash(h);
    expect(inner.calls).toBe(calls);
    await cache.findByHash('a');
    expect(inner.calls).toBe(calls + 1);
  });

  test('expireAll(): every entry is reloaded before it answers again, and answers stale if Postgres fails', async () => {
    const { inner, cache } = setup();
    inner.records.set('h1', record('key_1'));
    inner.records.set('h2', record('key_2'));
    await cache.findByHash('h1');
    await cache.findByHash('h2');
    inner.records.set('h1', { ...record('key_1'), revoked: true }); // a revocation whose notification was lost
    cache.expireAll();
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: true });
    expect(inner.calls).toBe(3);
    cache.expireAll();
    inner.failure = new StoreUnavailable('postgres', 'down');
    expect(await cache.findByHash('h2')).toEqual(record('key_2'));
    expect(inner.calls).toBe(4);
  });

  test('invalidate(hash) and expireAll() force a reload, also over a load in flight', async () => {
    const { inner, cache } = setup();
    inner.records.set('h1', record('key_1'));
    await cache.findByHash('h1');
    inner.records.set('h1', { ...record('key_1'), revoked: true });
    cache.invalidate('h1');
    expect(await cache.findByHash('h1')).toMatchObject({ revoked: true });
    // A load that started before invalidate() must not put its (old) answer back in the cache.
    let open!: () => void;
    inner.gate = new Promise((resolve) => (open = resolve));
    cache.expireAll();
    const inFlight = cache.findByHash('h1');
    cache.invalidate('h1');
    inner.records.set('h1', record('key_1'));
    open();
    await inFlight;
    inner.gate = undefined;
    inner.records.set('h1', { ...record('key_1'), accountStatus: 'suspended' });
    expect(await cache.findByHash('h1')).toMatchObject({ accountStatus: 'suspended' });
    expect(inner.calls).toBe(4);
  });
});

describe('CachedKeyStore over SqlKeyStore on PGlite', () => {
  let sql: Sql;
  beforeAll(async () => {
    sql = await freshPglite();
    await migrate(sql);
    await savePolicy(sql, parsePolicy('tiers:\n  free: { quota: unlimited }\n'));
  });
  afterAll(async () => sql?.close());

  test('a revoked key stays cached until invalidated, then is refused', async () => {
    const { id: accountId } = await createAccount(sql, { name: 'cached', tier: 'free', credits: 7 });
    const { id, key } = await createKey(sql, { accountId });
    const hash = hashApiKey(key);
    const cache = new CachedKeyStore({ inner: new SqlKeyStore(sql) });
    expect(await cache.findByHash(hash)).toMatchObject({
      keyId: id,
      accountId,
      revoked: false,
      creditBalance: 7,
    });
    expect(await cache.findByHash(hashApiKey('tg_live_nope'))).toBeNull();
    await revokeKey(sql, id);
    expect(await cache.findByHash(hash)).toMatchObject({ revoked: false });
    cache.invalidate(hash);
    expect(await cache.findByHash(hash)).toMatchObject({ revoked: true });
  });
});
