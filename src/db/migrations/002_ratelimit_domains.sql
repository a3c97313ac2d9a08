-- Tollgate schema v2: Envoy rate-limit service rules (policy section `ratelimit_domains`), one row per
-- domain. The descriptor tree is nested and always read whole, so it is stored as one jsonb document
-- (the RatelimitDomain object of src/policy/ratelimit-rules.ts); savePolicy replaces every row.

create table ratelimit_domains (
  name        text primary key,
  descriptors jsonb not null check (jsonb_typeof(descriptors) = 'array'),
  position    integer not null        -- order in the policy file
);
