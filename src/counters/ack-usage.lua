-- Usage flushing: forgets a batch once Postgres committed it (only that batch: a newer one stays).
--
-- KEYS[1] {a:ID}:usage:flushing   hash  the pending batch (see take-usage.lua)
-- ARGV[1] the batch id Postgres committed
-- Returns 1 when the batch was dropped, 0 when it was not pending (already acknowledged).

if redis.call('HGET', KEYS[1], '#batch') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
