-- Per-domain RLS settings: how a domain counts (envoy = envoyproxy/ratelimit's way, tollgate = all-or-nothing)
-- and which response headers it answers with (none | erl | ietf). NULL = the default (see src/rls/should-rate-limit.ts).
alter table ratelimit_domains add column counting text check (counting in ('envoy', 'tollgate'));
alter table ratelimit_domains add column response_headers text check (response_headers in ('none', 'erl', 'ietf'));
