// The SQL seam: postgres.js and PGlite behind one small interface, so the same queries run on both.

export type Row = Record<string, unknown>;

export interface Sql {
  /** Runs one statement with `$1…` parameters and returns its rows. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs several statements (no parameters), e.g. a migration file. */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<R>(fn: (tx: Sql) => Promise<R>): Promise<R>;
  /**
   * LISTEN on `channel` (change notifications): `onMessage` gets each payload. When the connection
   * was lost and LISTEN is back, `onReconnect` runs — notifications sent in between are lost, so the
   * caller reloads what it caches. Resolves once listening, with the function that stops it.
   * Only on a pool or database, not inside a transaction.
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect: () => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
