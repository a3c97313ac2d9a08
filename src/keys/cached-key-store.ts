// Decision path, first step: API key hash → KeyRecord from process memory; Postgres only on a miss.

import { StoreUnavailable } from '../errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';

export interface CachedKeyStoreOptions {
  inner: KeyStore;
  /** ms a found key is served before it is reloaded (the safety net behind LISTEN/NOTIFY). */
  ttlMs?: number;
  /** ms an unknown hash is answered "unknown" without asking the inner store. */
  negativeTtlMs?: number;
  /** Bound of each cache (found keys; unknown hashes), so a flood of random keys cannot evict real ones. */
  maxEntries?: number;
  /** ms a stale entry keeps being served after the inner store failed, before it is tried again. */
  staleRetryMs?: number;
  now?: () => number;
  /**
   * A number in [0, 1) per stored entry (default Math.random): its TTL is shortened by up to a quarter
   * by it, so keys loaded together (a warm-up, a restart, a reload of every key) are renewed over a
   * quarter of the TTL rather than all at once, which would hold decisions behind a burst of loads.
   */
  jitter?: () => number;
  /**
   * ms stale entries wait before their renewal is sent (default 20): the renewals asked for meanwhile
   * go together, up to RENEWALS_PER_ROUND in one round (one query for SqlKeyStore).
   */
  renewalDelayMs?: number;
  /** Called once per lookup with how the cache answered (metrics); a stale or in-flight entry is a miss. */
  onLookup?: (result: 'hit' | 'miss' | 'negative_hit') => void;
}

interface Entry {
  /** Already settled: returned as is on a hit, so a hit allocates nothing. */
  promise: Promise<KeyRecord | null>;
  record: KeyRecord | null;
  /** ms since epoch; past it the entry is stale (still served if the inner store is down). */
  freshUntil: number;
}

/** The share of a TTL over which entries stored together are spread (see jitter). */
const TTL_SPREAD = 0.25;
/** Background renewals sent per round (see renewSoon): one query's worth for SqlKeyStore. */
const RENEWALS_PER_ROUND = 100;
/** Stale entries waiting for their renewal at most; past it, later lookups queue them again. */
const MAX_QUEUED_RENEWALS = 10_000;

export class CachedKeyStore implements KeyStore {
  private readonly inner: KeyStore;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly staleRetryMs: number;
  private readonly now: () => number;
  private readonly jitter: () => number;
  private readonly onLookup: ((result: 'hit' | 'miss' | 'negative_hit') => void) | undefined;
  private readonly found = new Map<string, Entry>();
  private readonly unknown = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<KeyRecord | null>>();
  private readonly renewalDelayMs: number;
  /** Stale entries whose renewal waits for the next round, in the order they were found stale. */
  private readonly renewals = new Map<string, Entry>();
  private renewalTimer: NodeJS.Timeout | undefined;

  constructor(options: CachedKeyStoreOptions) {
    this.inner = options.inner;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.staleRetryMs = options.staleRetryMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.jitter = options.jitter ?? Math.random;
    this.renewalDelayMs = options.renewalDelayMs ?? 20;
    this.onLookup = options.onLookup;
  }

  findByHash(hash: string): Promise<KeyRecord | null> {
    const entry = this.answering(hash);
    if (entry !== undefined) return entry.promise;
    this.onLookup?.('miss');
    return this.loading.get(hash) ?? this.load(hash, this.found.get(hash) ?? this.unknown.get(hash));
  }

  /** The answer from memory with no promise to wait on (the decision path), or undefined on a miss. */
  findCached(hash: string): KeyRecord | null | undefined {
    return this.answering(hash)?.record;
  }

  /** The entry that answers a lookup now (counted as a hit), or undefined: the lookup must load. */
  private answering(hash: string): Entry | undefined {
    const entry = this.found.get(hash) ?? this.unknown.get(hash);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (entry.freshUntil > now) {
      this.onLookup?.(entry.record ? 'hit' : 'negative_hit');
      return entry;
    }
    // Refresh ahead: within one more TTL a stale entry still answers at once while one background
    // load renews it, so a hot key never makes a decision wait for Postgres. Changes do not wait
    // for the TTL (LISTEN/NOTIFY invalidates); the TTL is only the safety net.
    if (entry.freshUntil + this.ttlMs > now) {
      this.onLookup?.(entry.record ? 'hit' : 'negative_hit');
      if (!this.loading.has(hash)) this.renewSoon(hash, entry);
      return entry;
    }
    return undefined;
  }

  /** Drops one hash (a key was revoked, rotated, or its account changed). */
  invalidate(hash: string): void {
    this.found.delete(hash);
    this.unknown.delete(hash);
    this.loading.delete(hash);
  }

  /**
   * Drops every cached key of the account (its tier, status, anchor or credits changed). A scan of
   * the cache: account changes are rare, and the hot path keeps no hash→account index for them.
   * Loads in flight are dropped too (their account is not known before they finish).
   */
  invalidateAccount(accountId: string): void {
    for (const [hash, entry] of this.found)
      if (entry.record?.accountId === accountId) this.found.delete(hash);
    this.loading.clear();
  }

  /**
   * Every entry must be reloaded before it answers again (change notifications were lost): a lookup
   * waits for its load as on a miss, but if Postgres fails that load the entry still answers
   * (stale-on-error), so an outage that ends in a reconnect does not turn into refusing every key.
   */
  expireAll(): void {
    for (const entry of this.found.values()) entry.freshUntil = -Infinity;
    for (const entry of this.unknown.values()) entry.freshUntil = -Infinity;
    this.loading.clear();
  }

  get size(): { found: number; unknown: number } {
    return { found: this.found.size, unknown: this.unknown.size };
  }

  /**
   * A background renewal, sent in rounds of up to RENEWALS_PER_ROUND asked for in the same turn, so
   * the inner store can answer a round with one query. Under steady traffic stale entries are found
   * one per turn, and when traffic resumes after a pause every key is found stale within a second: a
   * load each would keep Postgres busy on the cores the decisions need. The stale entries answer
   * meanwhile, so nothing waits for a round.
   */
  private renewSoon(hash: string, stale: Entry): void {
    if (this.renewals.size >= MAX_QUEUED_RENEWALS) return;
    this.renewals.set(hash, stale);
    if (this.renewalTimer === undefined) this.scheduleRound();
  }

  /** The next round, renewalDelayMs from now; renewalTimer stays set until that round has finished. */
  private scheduleRound(): void {
    this.renewalTimer = setTimeout(() => this.renewRound(), this.renewalDelayMs);
    this.renewalTimer.unref();
  }

  private renewRound(): void {
    const round: Promise<unknown>[] = [];
    for (const [hash, stale] of this.renewals) {
      if (round.length === RENEWALS_PER_ROUND) break;
      this.renewals.delete(hash);
      // Renewed meanwhile (a miss loaded it, or it was invalidated and looked up again): not again.
      if (this.loading.has(hash) || (this.found.get(hash) ?? this.unknown.get(hash)) !== stale) continue;
      round.push(this.load(hash, stale).catch(() => {}));
    }
    void Promise.all(round).then(() => {
      if (this.renewals.size > 0) this.scheduleRound();
      else this.renewalTimer = undefined;
    });
  }

  /** One inner call per hash however many lookups wait for it. */
  private load(hash: string, stale: Entry | undefined): Promise<KeyRecord | null> {
    // Results are kept only if this load is still the current one (invalidate() during a load drops it).
    const current = () => this.loading.get(hash) === settled;
    const settled: Promise<KeyRecord | null> = new Promise<KeyRecord | null>((resolve) =>
      resolve(this.inner.findByHash(hash)),
    )
      .then(
        (record) => {
          if (current()) this.store(hash, record, record ? this.ttlMs : this.negativeTtlMs);
          return record;
        },
        (err: unknown) => {
          if (!(err instanceof StoreUnavailable) || stale === undefined) throw err;
          // Postgres down: keep serving what we knew, and retry only every staleRetryMs.
          if (current()) this.store(hash, stale.record, this.staleRetryMs);
          return stale.record;
        },
      )
      .finally(() => {
        if (current()) this.loading.delete(hash);
      });
    this.loading.set(hash, settled);
    return settled;
  }

  private store(hash: string, record: KeyRecord | null, ttlMs: number): void {
    const [map, other] = record ? [this.found, this.unknown] : [this.unknown, this.found];
    other.delete(hash);
    map.delete(hash); // re-insert at the end: Map order = load order, the oldest is evicted first
    if (map.size >= this.maxEntries) map.delete(map.keys().next().value as string);
    const freshFor = Math.round(ttlMs * (1 - TTL_SPREAD * this.jitter()));
    map.set(hash, { promise: Promise.resolve(record), record, freshUntil: this.now() + freshFor });
  }
}
