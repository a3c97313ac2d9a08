-- Tollgate schema v3: usage flushed from the live counters (Redis or in-process), exactly once.
--
-- The usage flusher moves an account's counted usage out of Redis under a batch id and writes it in
-- ONE transaction: a usage_batches row (the primary key makes a replay of the same batch a no-op),
-- the usage_monthly increments, and one credit_ledger debit (`usage:<batch id>`). Only after the
-- commit is the batch dropped from Redis, so a crash or a Postgres outage retries the same batch.

create table usage_batches (
  batch_id   text primary key,              -- random id chosen when the batch left the live counters
  account_id text not null,
  flushed_at timestamptz not null default now()
);
create index usage_batches_flushed_idx on usage_batches (flushed_at);

-- Calls, quota units and credits per account, billing period and endpoint (read by billing and /v1/usage).
create table usage_monthly (
  account_id   text not null,
  period_start timestamptz not null,        -- start of the account's billing period (anchor day, UTC)
  endpoint     text not null,
  calls        bigint not null default 0 check (calls >= 0),
  units        bigint not null default 0 check (units >= 0),
  credits      bigint not null default 0 check (credits >= 0),
  primary key (account_id, period_start, endpoint)
);
