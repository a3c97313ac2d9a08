-- Tollgate schema v10: plans follow payments — inbound Stripe webhooks move accounts between tiers.

-- The policy's Stripe mapping (policy file `tiers.<name>.stripe_prices`, `rank`, `downgrade_tier`).
alter table tiers add column stripe_prices text[];          -- null = the tier names no price
alter table tiers add column rank integer check (rank >= 0);  -- null = 0; several prices: highest wins
alter table tiers add column downgrade_tier text;           -- checked by the policy parser
-- Policy-wide settings that belong to no tier (`downgrade_tier` at the top of the policy file).
create table policy_settings (
  name  text primary key,
  value text not null
);

-- Webhooks arrive by id at least once: the primary key makes a redelivery a no-op. Every event is kept
-- with what it did, for GET /admin/billing/events and replays.
create table stripe_events (
  id              text primary key,                 -- Stripe's `evt_…`
  type            text not null,
  created         timestamptz not null,             -- event.created (Stripe's clock; orders events)
  received_at     timestamptz not null default now(),
  customer_id     text,
  subscription_id text,
  account_id      text,
  result          text not null check (result in ('received', 'applied', 'ignored', 'failed')),
  reason          text,                             -- why ignored or failed; what was applied
  applied_at      timestamptz,
  payload         jsonb not null                    -- the event as Stripe sent it (no secrets)
);
create index stripe_events_received_idx on stripe_events (received_at);
create index stripe_events_result_idx on stripe_events (result, received_at);

-- The newest state seen per subscription: an older event (by event.created) never overwrites it.
create table stripe_subscriptions (
  id            text primary key,                  -- `sub_…`
  customer_id   text not null,
  status        text not null,                     -- Stripe's status; `deleted` after subscription.deleted
  tier          text,                              -- the mapped tier while active
  event_id      text not null,
  event_created timestamptz not null,
  past_due_since timestamptz                       -- first past_due; the grace check downgrades after PAYMENT_GRACE
);
create index stripe_subscriptions_past_due_idx on stripe_subscriptions (past_due_since) where past_due_since is not null;

-- Invoice payments per account: a failure suspends once PAYMENT_GRACE has passed, unless paid meanwhile.
create table payment_states (
  account_id   text primary key references accounts (id) on delete cascade,
  failed_at    timestamptz,                        -- the first unpaid failure's event.created; null = none open
  failed_event text,
  paid_at      timestamptz,                        -- the newest invoice.paid event.created
  suspended_at timestamptz                         -- set when the grace check suspended the account
);

create index accounts_billing_customer_idx on accounts (billing_customer_id) where billing_customer_id is not null;

-- tier.changed: an account moved between tiers (by a Stripe event or the grace check), for billing sinks.
alter table outbox drop constraint if exists outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('usage', 'quota.threshold', 'signup.verify', 'tier.changed'));
