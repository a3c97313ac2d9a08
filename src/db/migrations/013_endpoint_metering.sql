-- Metered endpoints (billed by units known after the response): the policy's `metering:` block as
-- { unit, reserve, reserveHeader?, maxReserve, settleWithinMs }. NULL = a fixed cost per call.
alter table endpoints add column metering jsonb;
-- A limit that counts units (the call's cost, or a metered call's reservation) instead of calls:
-- the unit's name, e.g. `tokens`. NULL = it counts calls.
alter table tier_limits add column unit text;
alter table override_limits add column unit text;
