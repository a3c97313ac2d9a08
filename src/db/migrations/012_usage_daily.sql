-- Tollgate schema v12: usage per UTC day (of the flush) and endpoint, for the console's usage chart.
-- Written by the usage flusher in the SAME transaction as usage_monthly, so both are exactly as complete.
create table usage_daily (
  account_id text not null,
  day        date not null,
  endpoint   text not null,
  calls      bigint not null default 0 check (calls >= 0),
  units      bigint not null default 0 check (units >= 0),
  primary key (account_id, day, endpoint)
);

-- Denials per account, UTC hour and reason (rate_limited, quota_exceeded, …): counted in process memory on the
-- decision path (no I/O there) and added here by the usage flusher's timer. For "why am I getting 429s?".
create table denials_hourly (
  account_id text not null,
  hour       timestamptz not null,
  reason     text not null,
  count      bigint not null check (count >= 0),
  primary key (account_id, hour, reason)
);
