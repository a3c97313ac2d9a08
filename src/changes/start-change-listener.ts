// Change notifications, receiving side: each replica LISTENs and drops exactly what changed from its caches.
//
// key → that hash, added to the key filter too (a new key); account → every cached key of the account
// (a scan of the cache: account changes are rare, so no hash→account index is kept on the hot path);
// policy → reload; credits → drop the account's keys (their credit seed is stale) and apply the ledger
// row to the live balance once.
// A lost LISTEN connection reloads everything once it is back (notifications in between are lost),
// and replays the credit rows written meanwhile. The key cache's TTL stays the safety net.

import type { LiveCredits } from '../counters/counter-store.js';
import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import { CHANGES_CHANNEL, parseChange, type Change } from '../db/notify-change.js';

export interface ChangeListenerOptions {
  sql: Sql;
  /** CachedKeyStore. */
  keys: { invalidate(hash: string): void; invalidateAccount(accountId: string): void; expireAll(): void };
  /**
   * FilteredKeyStore (serve): each key notification adds its hash; once LISTEN is up (at start and after a
   * lost connection) the keys created while no notification could arrive are read once.
   */
  keyFilter?: { add(hash: string): void; catchUp(): Promise<string[]> };
  /** PolicyHolder. */
  policy: { reload(): Promise<void> };
  /** The live balances (Redis or in-process); without it top-ups wait for the balance to be re-seeded. */
  credits?: LiveCredits;
  logger: Logger;
}

export interface ChangeListener {
  stop(): Promise<void>;
}

/** Resolves once listening; throws (StoreUnavailable) when Postgres is not reachable at start. */
export async function startChangeListener(options: ChangeListenerOptions): Promise<ChangeListener> {
  const { sql, keys, keyFilter, policy, credits, logger } = options;
  let lastLedgerId = await maxLedgerId(sql);
  const apply = async (change: Change) => {
    if (change.kind === 'key') {
      keyFilter?.add(change.hash); // before the cache drops a cached "unknown" for it
      keys.invalidate(change.hash);
    } else if (change.kind === 'account') keys.invalidateAccount(change.id);
    else if (change.kind === 'policy') await policy.reload();
    else {
      keys.invalidateAccount(change.account);
      lastLedgerId = Math.max(lastLedgerId, Number(change.ledgerId));
      await credits?.applyLedgerRow(change.account, change.ledgerId, change.delta);
    }
  };
  const onMessage = (payload: string) => {
    const change = parseChange(payload);
    if (!change) return logger.warn({ channel: CHANGES_CHANNEL }, 'ignoring an unknown change notification');
    apply(change).catch((err: unknown) =>
      logger.warn({ err, kind: change.kind }, 'applying a change notification failed'),
    );
  };
  let stopped = false;
  // Until it succeeds, keys created during the outage are refused by the filter: retried every second.
  // The keys read are dropped from the cache too: one looked up meanwhile may be cached as unknown.
  const catchUpKeys = (): void =>
    void keyFilter
      ?.catchUp()
      .then((hashes) => {
        for (const hash of hashes) keys.invalidate(hash);
      })
      .catch((err: unknown) => {
        logger.warn(
          { err },
          'reading the keys created while notifications were interrupted failed; retrying',
        );
        if (!stopped) setTimeout(catchUpKeys, 1_000).unref();
      });
  const onReconnect = () => {
    logger.warn('change notifications were interrupted: reloading keys, policy and credits');
    keys.expireAll();
    catchUpKeys();
    void policy.reload();
    void catchUpCredits(sql, lastLedgerId, credits)
      .then((last) => void (lastLedgerId = Math.max(lastLedgerId, last)))
      .catch((err: unknown) => logger.warn({ err }, 'replaying credit changes failed'));
  };
  const unlisten = await sql.listen(CHANGES_CHANNEL, onMessage, onReconnect);
  // Keys created between the filter's first read and LISTEN: before this replica serves.
  await keyFilter?.catchUp().catch(async (err) => {
    await unlisten();
    throw err;
  });
  return {
    stop: () => {
      stopped = true;
      return unlisten();
    },
  };
}

async function maxLedgerId(sql: Sql): Promise<number> {
  const [row] = await sql.query<{ id: number }>(
    'select coalesce(max(id), 0)::bigint as id from credit_ledger',
  );
  return row?.id ?? 0;
}

/**
 * Applies the non-usage ledger rows written after `after` (idempotent per row id). Rows of a
 * transaction that committed late with a lower id are missed: they reach the balance when it is
 * next re-seeded from Postgres.
 */
async function catchUpCredits(sql: Sql, after: number, credits: LiveCredits | undefined): Promise<number> {
  const rows = await sql.query<{ id: number; account_id: string; delta: number }>(
    "select id, account_id, delta from credit_ledger where id > $1::bigint and reason <> 'usage' order by id",
    [after],
  );
  for (const row of rows) await credits?.applyLedgerRow(row.account_id, String(row.id), row.delta);
  return rows.at(-1)?.id ?? after;
}
