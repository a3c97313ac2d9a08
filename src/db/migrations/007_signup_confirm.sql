-- Tollgate schema v7: sign-up confirmed by a one-time token, mailboxes keyed by an HMAC, and an index
-- for the key filter's catch-up read.

-- One row per sign-up awaiting confirmation. Only the SHA-256 of the token (it is 256 random bits, so a
-- plain hash cannot be reversed) and the HMAC of the mailbox are stored; the token itself reaches the
-- operator's mailer once, encrypted in the outbox. Confirming deletes the row (one use).
create table signup_tokens (
  token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
  email_hash text not null check (email_hash ~ '^[0-9a-f]{64}$'),
  ip         text not null,                 -- the client address at sign-up, for the audit row
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index signup_tokens_expires_idx on signup_tokens (expires_at);

-- signups.email_hash is now HMAC-SHA256(SIGNUP_SECRET, canonical mailbox). The rows before held an
-- unsalted SHA-256, which anyone can compute for a known address (enumeration); they can never match
-- an HMAC, so they are dropped. Their accounts stay; each of those mailboxes may sign up once more.
delete from signups;

-- The exporter delivers the confirmation token to the operator's mailer (webhook only).
alter table outbox drop constraint if exists outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('usage', 'quota.threshold', 'signup.verify'));

-- The key filter reads keys created since its last read when LISTEN (re)starts.
create index api_keys_created_at_idx on api_keys (created_at);
