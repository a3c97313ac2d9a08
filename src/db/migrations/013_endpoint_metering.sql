-- Metered endpoints (billed by units known after the response): the policy's `metering:` block as
-- { unit, reserve, reserveHeader?, maxReserve, settleWithinMs }. NULL = a fixed cost per call.
alter table endpoints add column metering jsonb;
