// The SQL seam: postgres.js and PGlite behind one small interface, so the same queries run on both.

export type Row = Record<string, unknown>;

export interface Sql {
  /** Runs one statement with `$1…` parameters and returns its rows. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs several statements (no parameters), e.g. a migration file. */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<R>(fn: (tx: Sql) => Promise<R>): Promise<R>;
  close(): Promise<void>;
}
