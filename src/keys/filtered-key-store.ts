// Decision path, key cache miss: the in-process filter of stored key hashes answers "unknown" without a
// query; only a hash the filter may hold reaches the Postgres key store behind it.
//
// A key created on another replica moments ago: its change notification ('key', hash) adds it to this
// filter a few ms after its commit. A filter miss therefore waits graceMs and asks the filter again
// instead of asking Postgres: the key's creator had it only after its commit, so by then the
// notification has arrived unless delivery took longer than graceMs. Postgres is never asked for a
// miss, so a flood of distinct random keys costs no queries — only false positives (≈ 0.05 %) do.
// Kept current by the change listener: add() per notification, catchUp() once LISTEN is (re)established
// (keys created while no notification could arrive).

import type { Sql } from '../db/sql.js';
import { KeyHashFilter } from './key-hash-filter.js';
import type { KeyRecord, KeyStore } from './key-store.js';

/** ms a filter miss waits for a notification in flight: 50× a Postgres notification's usual delivery. */
export const NOTIFY_GRACE_MS = 100;
/** Hashes read per query when the filter is built. */
const PAGE = 20_000;
/**
 * A catch-up reads keys created from this long before the last read: created_at is the inserting
 * transaction's start, so a key committed after the last read may carry an earlier time.
 */
const CATCH_UP_MARGIN = '5 minutes';

export interface FilteredKeyStoreOptions {
  inner: KeyStore;
  sql: Sql;
  graceMs?: number;
  /** How each lookup that missed the cache went (metrics): refused by the filter, or a false positive (looked up, unknown). */
  onResult?: (result: 'refused' | 'false_positive') => void;
}

export class FilteredKeyStore implements KeyStore {
  private filter = new KeyHashFilter();
  /** The filter being built by load(): notifications arriving meanwhile go to both. */
  private building: KeyHashFilter | undefined;
  /** Database time just before the last read of api_keys. */
  private readAt: Date | undefined;

  private constructor(private readonly options: FilteredKeyStoreOptions) {}

  /** Built from every stored key hash before it answers. */
  static async open(options: FilteredKeyStoreOptions): Promise<FilteredKeyStore> {
    const store = new FilteredKeyStore(options);
    await store.load();
    return store;
  }

  async findByHash(hash: string): Promise<KeyRecord | null> {
    if (this.filter.has(hash)) return this.lookUp(hash);
    await new Promise((resolve) => setTimeout(resolve, this.options.graceMs ?? NOTIFY_GRACE_MS));
    if (this.filter.has(hash)) return this.lookUp(hash);
    this.options.onResult?.('refused');
    return null;
  }

  private async lookUp(hash: string): Promise<KeyRecord | null> {
    const record = await this.options.inner.findByHash(hash);
    if (record === null) this.options.onResult?.('false_positive');
    return record;
  }

  /** A key was created (or changed: adding an existing hash is harmless). */
  add(hash: string): void {
    this.filter.add(hash);
    this.building?.add(hash);
  }

  /** Keys created since the last read (minus a margin): after LISTEN starts or comes back. Returns their hashes. */
  async catchUp(): Promise<string[]> {
    const since = this.readAt;
    const [now] = await this.options.sql.query<{ now: Date }>('select now() as now');
    const rows = await this.options.sql.query<{ key_hash: string }>(
      `select key_hash from api_keys where created_at >= $1::timestamptz - interval '${CATCH_UP_MARGIN}'`,
      [since ?? new Date(0)],
    );
    for (const row of rows) this.add(row.key_hash);
    this.readAt = now!.now;
    return rows.map((row) => row.key_hash);
  }

  get stats(): { keys: number; bytes: number } {
    return { keys: this.filter.count, bytes: this.filter.bytes };
  }

  /** Every stored hash, read in pages of PAGE along the key_hash index. */
  private async load(): Promise<void> {
    const { sql } = this.options;
    const [head] = await sql.query<{ now: Date; n: number }>(
      'select now() as now, count(*)::int as n from api_keys',
    );
    const filter = new KeyHashFilter(head!.n);
    this.building = filter;
    try {
      let after = '';
      for (;;) {
        const rows = await sql.query<{ key_hash: string }>(
          'select key_hash from api_keys where key_hash > $1 order by key_hash limit $2::int',
          [after, PAGE],
        );
        for (const row of rows) filter.add(row.key_hash);
        if (rows.length < PAGE) break;
        after = rows.at(-1)!.key_hash;
      }
    } finally {
      this.building = undefined;
    }
    this.filter = filter;
    this.readAt = head!.now;
  }
}
