-- Counters: takes back the books part of ONE decide.lua decision that consumed, but whose caller was
-- already answered "unavailable" (Redis stopped after running the script and before sending its reply).
--
-- Reverses exactly what decide.lua wrote for an allowed decision's books: the usage hash fields, the
-- quota count of the period it was counted in, and the credit balance. Rate-limit window state is left
-- consumed: the request did reach Redis, and only what is billed must match what was served.
--
-- KEYS (one hash tag {a:<accountId>}: one Redis Cluster slot):
--   KEYS[1] {a:ID}:quota    hash   p = period start, u = units used (decide.lua)
--   KEYS[2] {a:ID}:credits  string live credit balance
--   KEYS[3] {a:ID}:usage    hash   "<periodStartMs>|<endpoint>|calls|units|credits"; it may have been
--                                  RENAMEd away by take-usage.lua since: the negative fields then start
--                                  a fresh hash and are flushed as a correction
--   KEYS[4] {a:ID}:r:<id>   hash   the decision's reservation record, when it made one: deleted
-- ARGV:
--   1 period start ms the decision counted in (its reply's period start)
--   2 units the decision consumed
--   3 credits debited; "0" = none
--   4 endpoint (usage fields); "" = no usage was recorded
--   5 "1" = the decision added its units to the quota count (a quota limit was in force), "0" = not
-- Returns 1.

local p, units, cost, endpoint, counted = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5] == '1'
-- Integers as Redis parses them (never "-0" or an exponent).
local function neg(x) return string.format('-%.0f', x) end
-- A later period has started over at 0: the earlier period's count is gone with it.
if counted and units > 0 and redis.call('HGET', KEYS[1], 'p') == p then redis.call('HINCRBY', KEYS[1], 'u', neg(units)) end
-- Absent = seeded from Postgres on the next decide, which holds no debit for this call either.
if cost > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], string.format('%.0f', cost)) end
if endpoint ~= '' then
  local field = p .. '|' .. endpoint .. '|'
  redis.call('HINCRBY', KEYS[3], field .. 'calls', -1)
  if units > 0 then redis.call('HINCRBY', KEYS[3], field .. 'units', neg(units)) end
  if cost > 0 then redis.call('HINCRBY', KEYS[3], field .. 'credits', neg(cost)) end
end
if KEYS[4] then redis.call('DEL', KEYS[4]) end
return 1
