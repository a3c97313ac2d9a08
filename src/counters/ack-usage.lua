#!lua flags=allow-cross-slot-keys,allow-oom
-- Usage flushing: forgets batches once Postgres committed them (only those batches: a newer one stays).
--
-- Many accounts per call, routed like take-usage.lua: KEYS[1] names the first account's pending batch
-- {a:ID}:usage:flushing and only routes the call; the script names each account's key itself.
-- ARGV pairs: account id, the batch id Postgres committed for it.
-- Returns the number of batches dropped (a batch no longer pending was acknowledged already).

local dropped = 0
for i = 1, #ARGV, 2 do
  local key = '{a:' .. ARGV[i] .. '}:usage:flushing'
  if redis.call('HGET', key, '#batch') == ARGV[i + 1] then dropped = dropped + redis.call('DEL', key) end
end
return dropped
