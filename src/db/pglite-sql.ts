// Database adapter (embedded): the Sql seam over PGlite, in a data directory or in memory.

import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Row, Sql } from './sql.js';

/** Same JS values as PostgresSql: int8 (already a number in PGlite) and numeric → number. */
const PARSERS = { 20: (x: string) => Number(x), 1700: (x: string) => Number(x) };

type Connection = PGlite | Transaction;

export class PgliteSql implements Sql {
  private savepoints = 0;

  private constructor(
    private readonly conn: Connection,
    private readonly root: PGlite | undefined,
  ) {}

  /** `dataDir` = a directory the process owns; undefined = in memory. */
  static async open(dataDir?: string): Promise<PgliteSql> {
    const db = await PGlite.create(dataDir, { parsers: PARSERS });
    return new PgliteSql(db, db);
  }

  async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.conn.query<T>(text, params as unknown[]);
    return result.rows;
  }

  async exec(text: string): Promise<void> {
    await this.conn.exec(text);
  }

  async transaction<R>(fn: (tx: Sql) => Promise<R>): Promise<R> {
    if (this.root) return this.root.transaction((tx) => fn(new PgliteSql(tx, undefined)));
    // Nested inside a transaction: a savepoint, so a failing inner block rolls back alone.
    const name = `tg_sp_${++this.savepoints}`;
    await this.conn.exec(`savepoint ${name}`);
    try {
      const result = await fn(this);
      await this.conn.exec(`release savepoint ${name}`);
      return result;
    } catch (err) {
      await this.conn.exec(`rollback to savepoint ${name}`);
      throw err;
    }
  }

  /** In-process: the connection cannot be lost, so onReconnect never runs. */
  async listen(
    channel: string,
    onMessage: (payload: string) => void,
    _onReconnect: () => void,
  ): Promise<() => Promise<void>> {
    if (!this.root) throw new Error('listen() is not available inside a transaction');
    const unlisten = await this.root.listen(channel, onMessage);
    return async () => {
      if (!this.root!.closed) await unlisten();
    };
  }

  async close(): Promise<void> {
    if (this.root && !this.root.closed) await this.root.close();
  }
}
