-- Usage flushing: hands the flusher one batch of an account's usage, owned by exactly one batch id.
--
-- The live hash is RENAMEd away whole (atomic: a decide after this call starts a fresh hash), to ONE
-- fixed "flushing" key per account that carries its batch id in the field `#batch` (usage fields
-- always contain `|`, so they cannot collide). While a batch is pending — not yet acknowledged by
-- ack-usage.lua because Postgres was down or the replica died mid-flush — it is returned again with
-- the same id instead of a new one: Postgres ignores a batch id it already has, so a retry by any
-- replica is a no-op there, and no usage is counted twice or lost.
--
-- KEYS (one hash tag {a:<accountId>}: one Redis Cluster slot):
--   KEYS[1] {a:ID}:usage            hash  the live usage decide.lua increments
--   KEYS[2] {a:ID}:usage:flushing   hash  the pending batch: usage fields + `#batch`
-- ARGV:
--   1 the id for a new batch (used only when none is pending)
-- Returns {} when the account has nothing to flush, else a flat array
--   { batchId, field1, value1, field2, value2, ... }  (the `#batch` field included; callers skip it)

local pending = redis.call('HGET', KEYS[2], '#batch')
if not pending then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], '#batch', ARGV[1])
  pending = ARGV[1]
end
local out = { pending }
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields do out[i + 1] = fields[i] end
return out
