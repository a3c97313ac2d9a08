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
