// Decision path, cache miss: API key hash → key, account and credit balance in one Postgres query.

import type { Sql } from '../db/sql.js';
import { ConnectionWatch } from '../counters/connection-watch.js';
import { StoreUnavailable } from '../errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';

const FIND_BY_HASH = `
  select k.id as key_id, k.account_id, a.tier, a.status, k.expires_at, k.revoked_at is not null as revoked,
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
   where k.key_hash = $1`;

interface KeyRow {
  [column: string]: unknown;
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

  constructor(
    private readonly sql: Sql,
    options: SqlKeyStoreOptions = {},
  ) {
    this.watch = new ConnectionWatch(options.timeoutMs ?? 5_000, () => {}, 'postgres');
  }

  async findByHash(hash: string): Promise<KeyRecord | null> {
    try {
      const rows = await this.watch.track(this.sql.query<KeyRow>(FIND_BY_HASH, [hash]));
      const row = rows[0];
      return row ? toRecord(row) : null;
    } catch (err) {
      // On the decision path every store failure is one typed error (the transport maps it).
      if (err instanceof StoreUnavailable) throw err;
      throw new StoreUnavailable('postgres', `key lookup failed: ${(err as Error).message}`, { cause: err });
    }
  }
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
