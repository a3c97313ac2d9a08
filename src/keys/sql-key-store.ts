// Decision path, cache miss: API key hash → key, account and credit balance in one Postgres query,
// which answers every lookup waiting for it (up to MAX_BATCH hashes): those asked for in the same turn
// of the event loop, and those asked for while MAX_IN_FLIGHT queries were out.

import type { Sql } from '../db/sql.js';
import { ConnectionWatch } from '../counters/connection-watch.js';
import { StoreUnavailable } from '../errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';

const FIND_BY_HASHES = `
  select k.key_hash, k.id as key_id, k.account_id, a.tier, a.status, k.expires_at, k.revoked_at is not null as revoked,
         a.billing_anchor_day,
         coalesce((select sum(l.delta) from credit_ledger l where l.account_id = a.id), 0) as credit_balance,
         coalesce((select max(l.id) from credit_ledger l where l.account_id = a.id), 0)::bigint as credit_ledger_id,
         q.period_start as seed_period_start, q.units as seed_units
    from api_keys k
    join accounts a on a.id = k.account_id
    left join lateral (
      select u.period_start, sum(u.units) as units from usage_monthly u
       where u.account_id = a.id group by u.period_start order by u.period_start desc limit 1
    ) q on true
   where k.key_hash = any($1::text[])`;

/** Hashes per query: the cache's renewals after a pause, or a burst of cold keys, cost a few queries, not one each. */
const MAX_BATCH = 100;
/**
 * Queries out at once. Lookups asked for meanwhile wait and go together when one returns: under a
 * steady stream (one lookup per turn, as renewals come when traffic resumes after a pause) a query
 * per lookup would otherwise keep Postgres busy on the cores the decisions need.
 */
const MAX_IN_FLIGHT = 2;

interface KeyRow {
  [column: string]: unknown;
  key_hash: string;
  key_id: string;
  account_id: string;
  tier: string;
  status: 'active' | 'suspended';
  expires_at: Date | null;
  revoked: boolean;
  billing_anchor_day: number;
  credit_balance: number;
  credit_ledger_id: number;
  seed_period_start: Date | null;
  seed_units: number | null;
}

export interface SqlKeyStoreOptions {
  /**
   * PG_TIMEOUT_MS: lookups fail with StoreUnavailable once Postgres has answered none of them for this
   * long (a hung Postgres must not hang decisions). Judged on the answers, not on one lookup's wait:
   * a burst of cold keys queued behind each other on a healthy Postgres is answered, however late.
   */
  timeoutMs?: number;
}

export class SqlKeyStore implements KeyStore {
  private readonly watch: ConnectionWatch;
  /** Lookups not yet sent: asked for in this turn of the event loop, or while MAX_IN_FLIGHT were out. */
  private readonly waiting: Lookup[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly sql: Sql,
    options: SqlKeyStoreOptions = {},
  ) {
    this.watch = new ConnectionWatch(options.timeoutMs ?? 5_000, () => {}, 'postgres');
  }

  findByHash(hash: string): Promise<KeyRecord | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ hash, resolve, reject });
      if (!this.scheduled && this.inFlight < MAX_IN_FLIGHT) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.sendWaiting();
        });
      }
    });
  }

  /** The waiting lookups, in as few queries as MAX_BATCH allows, while fewer than MAX_IN_FLIGHT are out. */
  private sendWaiting(): void {
    while (this.waiting.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      this.inFlight++;
      void this.lookUp(this.waiting.splice(0, MAX_BATCH)).finally(() => {
        this.inFlight--;
        this.sendWaiting();
      });
    }
  }

  private async lookUp(lookups: Lookup[]): Promise<void> {
    const hashes = [...new Set(lookups.map((l) => l.hash))];
    let rows: KeyRow[];
    try {
      rows = await this.watch.track(this.sql.query<KeyRow>(FIND_BY_HASHES, [hashes]));
    } catch (err) {
      // On the decision path every store failure is one typed error (the transport maps it).
      const failure =
        err instanceof StoreUnavailable
          ? err
          : new StoreUnavailable('postgres', `key lookup failed: ${(err as Error).message}`, { cause: err });
      for (const l of lookups) l.reject(failure);
      return;
    }
    const found = new Map(rows.map((row) => [row.key_hash, row]));
    for (const l of lookups) {
      const row = found.get(l.hash);
      try {
        l.resolve(row ? toRecord(row) : null);
      } catch (err) {
        l.reject(err); // a row this code cannot read: a bug, reported to the caller, not swallowed
      }
    }
  }
}

interface Lookup {
  hash: string;
  resolve(record: KeyRecord | null): void;
  reject(err: unknown): void;
}

function toRecord(row: KeyRow): KeyRecord {
  const record: KeyRecord = {
    keyId: row.key_id,
    accountId: row.account_id,
    tier: row.tier,
    accountStatus: row.status,
    expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    revoked: row.revoked,
    billingAnchorDay: row.billing_anchor_day,
    creditBalance: row.credit_balance,
    creditLedgerId: Number(row.credit_ledger_id),
  };
  if (row.seed_period_start)
    record.quotaSeed = { periodStartMs: row.seed_period_start.getTime(), units: row.seed_units ?? 0 };
  return record;
}
