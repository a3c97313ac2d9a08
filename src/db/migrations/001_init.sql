-- Tollgate schema v1: the policy (tiers, limits, endpoints, overrides), accounts, API keys (SHA-256
-- hashes only) and the credit ledger. Later migrations add usage, audit and outbox tables; ids are
-- text (`acc_…`, `key_…`) so those tables can reference accounts and keys without a join to decode.

create table if not exists schema_migrations (
  version    text primary key,          -- file name without `.sql`, e.g. `001_init`
  applied_at timestamptz not null default now()
);

-- ── Policy (replaced as a whole by savePolicy, in one transaction) ─────────────────────────────
create table tiers (
  name                   text primary key,
  quota_units            bigint check (quota_units >= 0),           -- null = unlimited; units per month
  quota_overage          boolean not null default false,            -- soft gate: allowed past quota, billed
  credits_per_request    integer not null default 0 check (credits_per_request >= 0),
  upgrade_url            text,
  price_monthly          numeric(14, 4),
  price_overage_per_1000 numeric(14, 4),
  price_currency         text,
  position               integer not null                           -- order in the policy file
);

create table tier_limits (
  tier        text not null references tiers (name) on delete cascade,
  name        text not null,
  algorithm   text not null check (algorithm in ('fixed_window', 'sliding_window', 'token_bucket')),
  limit_value integer not null check (limit_value >= 1),
  window_ms   bigint not null check (window_ms >= 1),
  burst       integer check (burst >= 1),                             -- token_bucket capacity only
  shadow      boolean not null default false,
  position    integer not null,
  primary key (tier, name)
);

create table endpoints (
  name     text primary key,
  methods  text[] not null default '{}',   -- upper-case; empty = any method
  path     text not null,                  -- pattern: `*` one segment, trailing `/**`
  cost     integer not null default 1 check (cost >= 0),
  position integer not null                -- first match wins
);

create table endpoint_overrides (
  endpoint text not null references endpoints (name) on delete cascade,
  tier     text not null references tiers (name) on delete cascade,
  allowed  boolean not null default true,  -- false = feature gate (403)
  primary key (endpoint, tier)
);

create table override_limits (
  endpoint    text not null,
  tier        text not null,
  name        text not null,
  algorithm   text not null check (algorithm in ('fixed_window', 'sliding_window', 'token_bucket')),
  limit_value integer not null check (limit_value >= 1),
  window_ms   bigint not null check (window_ms >= 1),
  burst       integer check (burst >= 1),
  shadow      boolean not null default false,
  position    integer not null,
  primary key (endpoint, tier, name),
  foreign key (endpoint, tier) references endpoint_overrides (endpoint, tier) on delete cascade
);

-- ── Accounts and keys ─────────────────────────────────────────────────────────────────────────
create table accounts (
  id                 text primary key check (id ~ '^acc_[a-z2-7]{16}$'),
  name               text not null,
  tier               text not null references tiers (name),   -- a tier in use cannot be removed
  status             text not null default 'active' check (status in ('active', 'suspended')),
  billing_anchor_day integer not null default 1 check (billing_anchor_day between 1 and 31),
  created_at         timestamptz not null default now()
);
create index accounts_tier_idx on accounts (tier);

create table api_keys (
  id         text primary key check (id ~ '^key_[a-z2-7]{16}$'),
  account_id text not null references accounts (id) on delete cascade,
  key_hash   text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),  -- hex SHA-256; never the key
  prefix     text not null check (length(prefix) = 12),                 -- e.g. `tg_live_ab12`, for support
  name       text,
  created_at timestamptz not null default now(),
  expires_at timestamptz,      -- null = never; rotation sets the end of the grace period
  revoked_at timestamptz
);
create index api_keys_account_idx on api_keys (account_id);
create index api_keys_prefix_idx on api_keys (prefix);

-- ── Credits: every change is a row; the balance is the sum ───────────────────────────────────
create table credit_ledger (
  id              bigserial primary key,
  account_id      text not null references accounts (id) on delete cascade,
  delta           bigint not null,   -- credits; negative = debit or correction
  reason          text not null,
  idempotency_key text unique,       -- top-ups with the same key apply once
  created_at      timestamptz not null default now()
);
create index credit_ledger_account_idx on credit_ledger (account_id);
