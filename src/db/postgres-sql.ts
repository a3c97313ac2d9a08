// Database adapter (Postgres server): the Sql seam over postgres.js, used by key lookups, admin and the CLI.

import postgres from 'postgres';
import { StoreUnavailable } from '../errors.js';
import type { Row, Sql } from './sql.js';

export interface PostgresSqlOptions {
  /** Pool size (connections). Small: the decision path reads from the cache, not from Postgres. */
  max?: number;
  /** Seconds to wait for a connection before the query fails with StoreUnavailable. */
  connectTimeoutSec?: number;
}

/** int8 and numeric arrive as strings from postgres.js; parse them to JS numbers like PGlite does. */
const toNumber = { serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) };
const TYPES = {
  int8: { to: 20, from: [20], ...toNumber },
  numeric: { to: 1700, from: [1700], ...toNumber },
};

/** postgres.js / libpq connection failures (SQLSTATE class 08, shutdowns, pool exhaustion). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'));
}

function mapError(err: unknown): unknown {
  if (!isConnectionError(err)) return err;
  return new StoreUnavailable('postgres', (err as Error).message, { cause: err });
}

type Connection = postgres.Sql | postgres.TransactionSql;

/** ms between attempts to LISTEN again after the listening connection was lost (Postgres down). */
/**
 * Seconds before postgres.js connects again after failed attempts. Its default grows as 3^n / 100 up to
 * 20 s, so after an outage of a few seconds Tollgate stayed away for seconds more (a revocation's
 * notification, a cold key's lookup, a flush). Capped at 1 s here, with jitter so replicas do not
 * reconnect in step.
 */
export function reconnectBackoffSec(retries: number): number {
  return Math.min(1, 0.05 * 2 ** Math.min(retries, 10)) * (0.5 + Math.random() / 2);
}

const RELISTEN_DELAY_MS = 500;

export class PostgresSql implements Sql {
  private readonly pool: postgres.Sql | undefined;

  constructor(url: string, options?: PostgresSqlOptions);
  constructor(url: null, options: undefined, connection: Connection);
  constructor(
    private readonly url: string | null,
    private readonly options: PostgresSqlOptions = {},
    private readonly connection?: Connection,
  ) {
    if (url !== null) {
      this.pool = postgres(url, {
        max: options.max ?? 5,
        connect_timeout: options.connectTimeoutSec ?? 5,
        backoff: reconnectBackoffSec,
        idle_timeout: 60,
        types: TYPES,
        transform: { undefined: null },
        onnotice: () => {}, // `create … if not exists` notices are not news
      });
      this.connection = this.pool;
    }
  }

  private get conn(): Connection {
    return this.connection!;
  }

  async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    try {
      // Named prepared statements (postgres.js caches one per text and connection; every text here
      // is a constant). Unprepared, a statement with parameters costs two round trips (Parse and
      // Describe, then Bind): a usage flush of 1,000 accounts spent 36 ms of Postgres CPU, not 31.
      // `?prepare=false` on DATABASE_URL turns this off (PgBouncer's transaction mode before 1.21).
      const rows = await this.conn.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
        prepare: params.length > 0,
      });
      return Array.from(rows) as unknown as T[];
    } catch (err) {
      throw mapError(err);
    }
  }

  async exec(text: string): Promise<void> {
    try {
      await this.conn.unsafe(text); // no parameters: simple protocol, several statements allowed
    } catch (err) {
      throw mapError(err);
    }
  }

  async transaction<R>(fn: (tx: Sql) => Promise<R>): Promise<R> {
    const run = (tx: postgres.TransactionSql) => fn(new PostgresSql(null, undefined, tx));
    try {
      // Inside a transaction a nested call is a savepoint: it rolls back alone if it throws.
      if (this.pool) return (await this.pool.begin(run)) as R;
      return (await (this.conn as postgres.TransactionSql).savepoint(run)) as R;
    } catch (err) {
      throw mapError(err);
    }
  }

  /**
   * A dedicated connection (not postgres.js' sql.listen: after a failed re-listen it stays broken
   * for good). On every close it LISTENs again until that succeeds, then calls onReconnect.
   */
  async listen(
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect: () => void,
  ): Promise<() => Promise<void>> {
    if (this.url === null) throw new Error('listen() is not available inside a transaction');
    let stopped = false;
    let retrying = false;
    // `onnotify` / `onclose` exist in postgres.js (its own listen uses them) but not in its typings.
    const client: postgres.Sql = postgres(this.url, {
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      connect_timeout: this.options.connectTimeoutSec ?? 5,
      backoff: reconnectBackoffSec,
      fetch_types: false,
      onnotice: () => {},
      onnotify: (name: string, payload: string) => {
        if (name === channel) onMessage(payload);
      },
      onclose: () => void relisten(),
    } as unknown as postgres.Options<Record<string, never>>);
    const listen = () => client.unsafe(`listen "${channel.replace(/"/g, '""')}"`);
    async function relisten(): Promise<void> {
      if (stopped || retrying) return;
      retrying = true;
      while (!stopped) {
        try {
          await listen();
          if (!stopped) onReconnect();
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RELISTEN_DELAY_MS));
        }
      }
      retrying = false;
    }
    try {
      await listen();
    } catch (err) {
      stopped = true;
      await client.end({ timeout: 1 });
      throw mapError(err);
    }
    return async () => {
      stopped = true;
      await client.end({ timeout: 1 });
    };
  }

  async close(): Promise<void> {
    await this.pool?.end({ timeout: 5 });
  }
}
