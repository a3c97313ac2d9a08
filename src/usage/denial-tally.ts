// Beside the decision path: denials counted per account, hour and reason in process memory (a Map increment,
// no I/O), drained into denials_hourly on the usage flusher's timer. Not a metric: accounts are unbounded.

import type { Sql } from '../db/sql.js';

const HOUR_MS = 3_600_000;
/** Past this many distinct (account, hour, reason) cells unflushed, new ones are dropped (Postgres down for long). */
const MAX_CELLS = 100_000;

export class DenialTally {
  private cells = new Map<string, number>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly now: () => number = Date.now) {}

  record(accountId: string, reason: string): void {
    const key = `${accountId}\n${Math.floor(this.now() / HOUR_MS) * HOUR_MS}\n${reason}`;
    const count = this.cells.get(key);
    if (count !== undefined) this.cells.set(key, count + 1);
    else if (this.cells.size < MAX_CELLS) this.cells.set(key, 1);
  }

  /** Writes what was counted since the last flush (after any write under way); on failure it is kept. */
  flush(sql: Sql): Promise<void> {
    const next = this.writing.catch(() => {}).then(() => this.write(sql));
    this.writing = next;
    return next;
  }

  private async write(sql: Sql): Promise<void> {
    if (this.cells.size === 0) return;
    const taken = this.cells;
    this.cells = new Map();
    const rows = [...taken].map(([key, count]) => [...key.split('\n'), String(count)] as const);
    try {
      await sql.query(
        `insert into denials_hourly (account_id, hour, reason, count)
         select a, timestamptz 'epoch' + h::bigint * interval '1 millisecond', r, c::bigint
           from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as t(a, h, r, c)
         on conflict (account_id, hour, reason) do update set count = denials_hourly.count + excluded.count`,
        [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
      );
    } catch (err) {
      for (const [key, count] of taken) this.cells.set(key, (this.cells.get(key) ?? 0) + count);
      throw err;
    }
  }
}

/** Denials of one account by reason over [sinceMs, now]. */
export async function denialsByReason(sql: Sql, accountId: string, sinceMs: number) {
  const rows = await sql.query(
    `select reason, sum(count)::bigint as count from denials_hourly
      where account_id = $1 and hour >= $2::timestamptz group by reason order by reason`,
    [accountId, new Date(Math.floor(sinceMs / HOUR_MS) * HOUR_MS).toISOString()],
  );
  return rows.map((r) => ({ reason: r.reason as string, count: Number(r.count) }));
}
