-- Tollgate schema v14: when usage last reached each usage_monthly row, for the console's "last call".
--
-- The console read it as max(flushed_at) over the account's usage_batches rows, which no index served:
-- every search scanned the whole table, one row per account and flush. The flush already updates the
-- usage_monthly row, so the time rides along (an unindexed column: no index entry is written for it),
-- and the account's rows are found by the primary key's prefix.
alter table usage_monthly add column last_flushed_at timestamptz;
update usage_monthly m set last_flushed_at = b.at
  from (select account_id, max(flushed_at) as at from usage_batches group by account_id) b
 where b.account_id = m.account_id;

-- Nothing reads usage_batches by time: its index only cost every flush one more write per account.
drop index usage_batches_flushed_idx;
