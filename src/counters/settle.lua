-- Counters: settles ONE reservation decide.lua recorded: the actual units replace the reserved ones.
--
-- Applies the difference (actual - reserved, a refund when negative) to the same books decide.lua
-- wrote when it reserved: the quota count of the period it was counted in, the credit balance, and
-- the usage fields of that period and endpoint (the flusher carries them to Postgres as a
-- correction). Then marks the record settled; it stays until its TTL so a second settle changes
-- nothing. Rate-limit windows are left as they were: they count calls.
--
-- KEYS (one hash tag {a:<accountId>}: one Redis Cluster slot):
--   KEYS[1] {a:ID}:quota    hash   p = period start, u = units used (decide.lua)
--   KEYS[2] {a:ID}:credits  string live credit balance; absent = seeded from Postgres on the next
--                                  decide, which learns the difference from the flushed usage
--   KEYS[3] {a:ID}:usage    hash   "<periodStartMs>|<endpoint>|units|credits"
--   KEYS[4] {a:ID}:r:<id>   string "<period start>|<reserved units>|<credits debited>|<endpoint>"
--                                  (decide.lua); "s" once settled, its TTL kept
-- ARGV:
--   1 actual units; "" = the reserved amount (the count could not be read)
--   2 the id's expiry, ms: a missing record past it expired at its reserved amount
--   3 now, ms since the epoch; "" = use Redis TIME
-- Returns { 2, reserved, units } settled now | { 1 } settled before or expired | { 0 } unknown.

local record = redis.call('GET', KEYS[4])
if not record then
  local now = tonumber(ARGV[3])
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return { now >= tonumber(ARGV[2]) and 1 or 0 }
end
if record == 's' then return { 1 } end

local p, reserved, charged, endpoint = string.match(record, '^(%d+)|(%d+)|(%d+)|(.*)$')
reserved, charged = tonumber(reserved), tonumber(charged)
local units = tonumber(ARGV[1]) or reserved
local delta = units - reserved
if delta ~= 0 then
  -- Integers as Redis parses them (never "-0" or an exponent).
  local function int(x) return string.format('%.0f', x) end
  -- A later period has started over at 0: the earlier period's count is gone with it.
  if redis.call('HGET', KEYS[1], 'p') == p then redis.call('HINCRBY', KEYS[1], 'u', int(delta)) end
  local field = p .. '|' .. endpoint .. '|'
  redis.call('HINCRBY', KEYS[3], field .. 'units', int(delta))
  if charged > 0 then
    -- decide.lua charged credits per unit times the reserved units: the difference is charged alike.
    -- The balance may go below 0 by this call's overrun; the next paid call is then denied.
    local credits = delta * (charged / reserved)
    if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], int(-credits)) end
    redis.call('HINCRBY', KEYS[3], field .. 'credits', int(credits))
  end
end
redis.call('SET', KEYS[4], 's', 'KEEPTTL')
return { 2, reserved, units }
