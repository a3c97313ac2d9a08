-- Tollgate schema v4: the admin API's audit trail, and the account's id in the external billing system.
-- (003 is the usage table; migrations are tracked by version, so they apply in any arrival order.)

-- One row per change made through the admin API, written in the same transaction as the change.
-- `details` never holds key material (plaintext keys, hashes) or tokens: ids, names and amounts only.
create table audit_log (
  id      bigserial primary key,
  at      timestamptz not null default now(),
  actor   text not null,          -- `admin` or `admin:<X-Tollgate-Actor header>`
  action  text not null,          -- e.g. `account.create`, `key.revoke`, `credits.add`, `policy.replace`
  target  text not null,          -- the changed object's id (`acc_…`, `key_…`) or `policy`
  details jsonb not null default '{}'::jsonb
);
create index audit_log_target_idx on audit_log (target, at);
create index audit_log_at_idx on audit_log (at);

alter table accounts add column billing_customer_id text check (length(billing_customer_id) between 1 and 200);
