#!lua flags=allow-cross-slot-keys,allow-oom
-- Usage flushing: hands the flusher one batch of usage per account, each owned by exactly one batch id.
--
-- Per account, the live hash is RENAMEd away whole (atomic: a decide after this call starts a fresh
-- hash), to ONE fixed "flushing" key per account that carries its batch id in the field `#batch`
-- (usage fields always contain `|`, so they cannot collide). While a batch is pending — not yet
-- acknowledged by ack-usage.lua because Postgres was down or the replica died mid-flush — it is
-- returned again with the same id instead of a new one: Postgres ignores a batch id it already has,
-- so a retry by any replica is a no-op there, and no usage is counted twice or lost.
--
-- Many accounts per call, so a flush costs a few script calls, not two per account. In a Redis
-- Cluster the accounts of one call share a node, not a slot: the script names their keys itself
-- (allow-cross-slot-keys permits keys of other slots on the same node), and KEYS[1] only routes
-- the call to that node. A slot that moved meanwhile fails the call; the flush is retried whole,
-- and what ran before the error is exactly what a retry expects (a pending batch, same id).
-- allow-oom: flushing is what frees the memory usage holds.
--
-- KEYS[1] {a:<first account>}:usage   routing only
-- ARGV    pairs: account id, the id for its new batch (used only when none is pending)
--   live usage {a:ID}:usage (decide.lua increments it); pending batch {a:ID}:usage:flushing
-- Returns one reply per account, in order: {} when it has nothing to flush, else a flat array
--   { batchId, field1, value1, field2, value2, ... }  (the `#batch` field included; callers skip it)

-- Checked before anything moves: a missing batch id would strand a renamed hash without `#batch`.
if #ARGV % 2 ~= 0 then return redis.error_reply('ERR take-usage.lua: ARGV must be pairs') end
local replies = {}
for i = 1, #ARGV, 2 do
  local live = '{a:' .. ARGV[i] .. '}:usage'
  local flushing = live .. ':flushing'
  local pending = redis.call('HGET', flushing, '#batch')
  if not pending and redis.call('EXISTS', live) == 1 then
    redis.call('RENAME', live, flushing)
    redis.call('HSET', flushing, '#batch', ARGV[i + 1])
    pending = ARGV[i + 1]
  end
  local reply = {}
  if pending then
    reply[1] = pending
    local fields = redis.call('HGETALL', flushing)
    for j = 1, #fields do reply[j + 1] = fields[j] end
  end
  replies[#replies + 1] = reply
end
return replies
