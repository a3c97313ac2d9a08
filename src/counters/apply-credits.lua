-- Credits: makes a ledger change written in Postgres (a top-up, a correction) visible in the live
-- balance at once, exactly once however many replicas hear of it.
--
-- Every replica receives the change notification and runs this script; the set of applied ledger
-- row ids makes all but the first a no-op. When the account has no live balance, nothing is written
-- to it: the next decide seeds the balance from the Postgres ledger sum, which includes the row.
--
-- A balance seeded from a ledger sum that already held this row (the top-up committed, a key reload
-- read it, a decide seeded it, and only then the notification arrived) is not changed either:
-- decide.lua recorded the highest row id of its seed as KEYS[3]'s field `cw`.
--
-- KEYS (one hash tag {a:<accountId>}: one Redis Cluster slot):
--   KEYS[1] {a:ID}:credits           string  live balance (decide.lua)
--   KEYS[2] {a:ID}:credits:applied   set     ledger row ids already applied (expires: ARGV[3])
--   KEYS[3] {a:ID}:quota             hash    field cw = highest ledger row id of the last seed
-- ARGV:
--   1 ledger row id   2 delta in credits (negative = correction)   3 ms the applied set is kept
-- Returns 1 when the balance changed, 0 otherwise.

if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seeded = tonumber(redis.call('HGET', KEYS[3], 'cw'))
if seeded and tonumber(ARGV[1]) <= seeded then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[2])
return 1
