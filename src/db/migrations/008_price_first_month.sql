-- price.first_month of the policy file: the billing period an account was created in is billed in full
-- (the default, as before) or prorated by the days the account existed in it.
alter table tiers add column price_first_month text not null default 'full'
  check (price_first_month in ('full', 'prorated'));
