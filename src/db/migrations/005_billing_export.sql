-- Tollgate schema v5: the money path — the export outbox, quota-threshold events and public sign-ups.

-- Rows to deliver to billing (Stripe meter events or signed webhooks). The usage flusher writes a
-- `usage` row in the SAME transaction as the usage it records, so export is exactly as complete as
-- usage. The exporter claims due rows with FOR UPDATE SKIP LOCKED; `tollgate-outbox-<id>` is the
-- idempotent identifier the sink dedupes on (at-least-once on the wire, once at the sink).
create table outbox (
  id              bigserial primary key,
  kind            text not null check (kind in ('usage', 'quota.threshold')),
  account_id      text not null,
  payload         jsonb not null,
  created_at      timestamptz not null default now(),
  delivered_at    timestamptz,                     -- null = not delivered yet
  attempts        integer not null default 0,      -- failed deliveries so far
  last_error      text,
  next_attempt_at timestamptz not null default now()
);
-- The exporter's claim: undelivered rows that are due, oldest first.
create index outbox_due_idx on outbox (next_attempt_at, id) where delivered_at is null;

-- One quota-threshold event per (account, billing period, threshold): the primary key makes every
-- later crossing of the same threshold (another replica's flush, a replay) a no-op.
create table quota_events (
  account_id   text not null,
  period_start timestamptz not null,
  threshold    numeric(6, 4) not null check (threshold > 0),   -- fraction of the quota, e.g. 0.8
  units        bigint not null,                                 -- usage when the crossing was seen
  quota        bigint not null,
  created_at   timestamptz not null default now(),
  primary key (account_id, period_start, threshold)
);

-- Public sign-up (POST /v1/signup): only a SHA-256 of the normalised email is kept, never the address
-- itself; its uniqueness stops one mailbox from collecting endless free accounts.
create table signups (
  email_hash text primary key check (email_hash ~ '^[0-9a-f]{64}$'),
  account_id text not null references accounts (id) on delete cascade,
  created_at timestamptz not null default now()
);
