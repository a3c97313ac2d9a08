-- Counters: the ONE atomic decision over an account's rate limits, monthly quota and credits (EVALSHA).
--
-- All or nothing: every limit, the quota and the credits are evaluated first; if any non-shadow
-- check denies, nothing is written. Otherwise all are consumed together and usage is recorded.
-- State lives in explicit hash fields (window start, TAT); PEXPIRE is garbage collection only,
-- because the caller's clock (ARGV[1]) may differ from the server's.
--
-- KEYS (every key shares the hash tag {a:<accountId>}: one Redis Cluster slot):
--   KEYS[1]    {a:ID}:quota     hash   p = period start (ms), u = units used in that period
--   KEYS[2]    {a:ID}:credits   string live credit balance (integer); absent = ARGV[7]
--   KEYS[3]    {a:ID}:usage     hash   "<periodStartMs>|<endpoint>|calls", "...|units" and "...|credits"
--                                      (HINCRBY; renamed away whole by take-usage.lua for the flusher)
--   KEYS[3+i]  {a:ID}:l:<id>    hash   state of limit i (i = 1..n):
--                fixed_window   s = window start ms, c = count
--                sliding_window s = current window start ms, c = current count, p = previous count
--                token_bucket   t = TAT, whole ms; r = TAT remainder in 1/limit ms (exact GCRA)
-- ARGV:
--   1 now, ms since the epoch; "" = use Redis TIME
--   2 billing anchor day 1..31 (1 = calendar month, UTC)
--   3 units this call consumes from the quota
--   4 quota limit in units; "" = unlimited (usage is still recorded)
--   5 quota overage: "1" = soft gate (allow past the limit), "0" = hard gate
--   6 credit cost; "" = no credits
--   7 credit seed: the balance assumed when KEYS[2] is absent (written only on an allowed debit),
--     optionally ":<ledger id>", the highest ledger row the seed holds: written with the seed as
--     KEYS[1]'s field `cw`, so apply-credits.lua never adds a row the seed already holds
--   8 endpoint name (usage field); "" = counters only (the RLS path): no usage record, and no
--     quota hash unless a quota is set
--   9 quota seed period start ms; "" = no seed. 10 quota seed units: what Postgres already holds for
--     that period (flushed usage). When the seed is for the current period, used = max(KEYS[1]'s
--     count, seed): a no-op normally (Redis counts everything Postgres has, and more), but after
--     Redis lost its data the quota continues from Postgres instead of 0; a new period starts at 0.
--  11 n = number of limits; then 6 values per limit i at 12+(i-1)*6:
--     algorithm ("f" fixed | "s" sliding | "t" token), limit, windowMs, capacity (token_bucket
--     burst; = limit otherwise), shadow ("1" | "0"), hits
-- Batch form: ARGV[1] = "#batch", ARGV[2] = count, ARGV[3] = deadline (Redis TIME in ms; "" = none),
-- then each decision's ARGV (as above, 11+6n) in turn; KEYS likewise concatenated (3+n each). Returns
-- one reply (below) per decision, nested, or { -1, message } for a decision whose evaluation failed;
-- all run in one atomic script call. Past the deadline nothing is read or written and the reply is
-- { -2, Redis TIME ms }: the caller may already have answered "unavailable" for these decisions (it
-- waits until the deadline has passed before it does), so they must never be counted.
-- Returns a flat array of integers:
--   [1] allowed 1|0  [2] now ms  [3] quota state 0 none|1 ok|2 denied|3 overage
--   [4] quota used after the decision  [5] period start ms  [6] period end ms
--   [7] credits state 0 none|1 ok|2 denied  [8] credit balance after the decision
--   then 4 per limit: state 0 ok|1 denied|2 shadow_denied, remaining, resetMs, retryAfterMs

local DAY = 86400000
local floor = math.floor

-- floor(a / b) for integers below 2^53, exact (corrects the rounding of the float division).
local function idiv(a, b)
  local q = floor(a / b)
  local r = a - q * b
  if r < 0 then q = q - 1 elseif r >= b then q = q + 1 end
  return q
end
local function ceil_div(a, b) return -idiv(-a, b) end
local function str(x) return string.format('%.0f', x) end

-- Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = floor((153 * mp + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_in_month(y, m)
  if m == 2 then return ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) and 29 or 28 end
  if m == 4 or m == 6 or m == 9 or m == 11 then return 30 end
  return 31
end

-- Day number of the period start in month m (may be 0 or 13): the anchor day, capped at the month's end.
local function anchor_in(y, m, anchor)
  if m < 1 then y, m = y - 1, m + 12 elseif m > 12 then y, m = y + 1, m - 12 end
  return days_from_civil(y, m, math.min(anchor, days_in_month(y, m)))
end

local function billing_period(now, anchor)
  local today = floor(now / DAY)
  local y, m = civil_from_days(today)
  local start = anchor_in(y, m, anchor)
  if today >= start then return start * DAY, anchor_in(y, m + 1, anchor) * DAY end
  return anchor_in(y, m - 1, anchor) * DAY, start * DAY
end

-- Each evaluator returns { fits, rem_now, rem_after, reset_now, reset_after, retry, write }.
-- *_now: state without this call; *_after: state once consumed; write() consumes.

local function fixed_window(key, now, limit, w, hits)
  local s = idiv(now, w) * w
  local st = redis.call('HMGET', key, 's', 'c')
  local count = (tonumber(st[1]) == s) and (tonumber(st[2]) or 0) or 0
  local reset = s + w - now
  -- A denied call fits once the window rolls over (never, if hits > limit: still the window end).
  return { fits = count + hits <= limit, rem_now = limit - count, rem_after = limit - count - hits,
    reset_now = reset, reset_after = reset, retry = reset,
    write = function()
      redis.call('HSET', key, 's', str(s), 'c', str(count + hits))
      -- GC only: once per window (the TTL set at its first write outlives the window).
      if tonumber(st[1]) ~= s then redis.call('PEXPIRE', key, str(2 * w + 60000)) end
    end }
end

-- Earliest ms from now at which estimate + hits <= limit, if no other call arrives (exact, so a
-- correct bound): within this window as the previous window's weight decays, else in the next one
-- (where this window's count becomes the decaying one). hits > limit never fits: both windows clear.
local function sliding_retry(now, s, w, limit, cur, prev, hits)
  local room = (limit - cur - hits) * w
  if room >= 0 then return s + w - idiv(room, prev) - now end
  local room2 = (limit - hits) * w
  if room2 < 0 then return s + 2 * w - now end
  if cur * w <= room2 then return s + w - now end
  return s + 2 * w - idiv(room2, cur) - now
end

-- Estimate = prev * (w - elapsed) / w + cur, compared in integers scaled by w (exact).
local function sliding_window(key, now, limit, w, hits)
  local s = idiv(now, w) * w
  local st = redis.call('HMGET', key, 's', 'c', 'p')
  local at, cur, prev = tonumber(st[1]), 0, 0
  if at == s then cur, prev = tonumber(st[2]) or 0, tonumber(st[3]) or 0
  elseif at == s - w then prev = tonumber(st[2]) or 0 end
  local room = limit * w - prev * (w - (now - s))
  local fits = (cur + hits) * w <= room
  local reset = s + w - now
  return { fits = fits, rem_now = idiv(room - cur * w, w), rem_after = idiv(room - (cur + hits) * w, w),
    reset_now = reset, reset_after = reset,
    retry = fits and 0 or sliding_retry(now, s, w, limit, cur, prev, hits),
    write = function()
      redis.call('HSET', key, 's', str(s), 'c', str(cur + hits), 'p', str(prev))
      if at ~= s then redis.call('PEXPIRE', key, str(2 * w + 60000)) end -- GC only, once per window
    end }
end

-- GCRA in ticks of 1/limit ms, so the emission interval T = windowMs/limit ms is exactly w ticks.
-- backlog = TAT - now (>= 0); a call fits if backlog + hits*T <= capacity*T.
local function token_bucket(key, now, limit, w, cap, hits)
  local st = redis.call('HMGET', key, 't', 'r')
  local tat = tonumber(st[1])
  local backlog = 0
  if tat and tat >= now then backlog = (tat - now) * limit + (tonumber(st[2]) or 0) end
  local full, after = cap * w, backlog + hits * w
  local function remaining(b) return idiv(full - b, w) end
  -- ms until one more token: backlog must drop to full - (remaining + 1) * T; 0 when full.
  local function reset(b)
    local r = remaining(b)
    if r >= cap then return 0 end
    return ceil_div(b - (full - (r + 1) * w), limit)
  end
  local fits = after <= full
  -- ms until this call fits (hits > capacity never fits: the value then exceeds a full refill).
  return { fits = fits, rem_now = remaining(backlog), rem_after = remaining(after),
    reset_now = reset(backlog), reset_after = reset(after),
    retry = fits and 0 or ceil_div(backlog - (full - hits * w), limit),
    write = function()
      local whole = idiv(after, limit)
      redis.call('HSET', key, 't', str(now + whole), 'r', str(after - whole * limit))
      redis.call('PEXPIRE', key, str(ceil_div(after, limit) + w + 60000))
    end }
end

-- One decision ---------------------------------------------------------------------------------

-- The decision over KEYS[ko+1 ..] and ARGV[ao+1 ..] (the layout above, shifted by the offsets), at
-- `now`; returns the flat reply. Reads come before writes: a key of the wrong type met by a read fails
-- the decision before anything is written.
local function decide(ko, ao, now)
  local anchor, units = tonumber(ARGV[ao + 2]), tonumber(ARGV[ao + 3])
  local quota_limit, overage = tonumber(ARGV[ao + 4]), ARGV[ao + 5] == '1'
  local cost = tonumber(ARGV[ao + 6])
  local seed_arg = ARGV[ao + 7]
  local colon = string.find(seed_arg, ':', 1, true)
  local seed = tonumber(colon and string.sub(seed_arg, 1, colon - 1) or seed_arg)
  local seed_id = colon and string.sub(seed_arg, colon + 1) or nil
  local endpoint, seed_p, seed_u = ARGV[ao + 8], tonumber(ARGV[ao + 9]), tonumber(ARGV[ao + 10])
  local n = tonumber(ARGV[ao + 11])
  local quota_key, credits_key, usage_key = KEYS[ko + 1], KEYS[ko + 2], KEYS[ko + 3]

  local allowed = true
  local evals = {}
  for i = 1, n do
    local b = ao + 11 + (i - 1) * 6
    local algo, limit, w = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local cap, shadow, hits = tonumber(ARGV[b + 4]), ARGV[b + 5] == '1', tonumber(ARGV[b + 6])
    local key = KEYS[ko + 3 + i]
    local e
    if algo == 'f' then e = fixed_window(key, now, limit, w, hits)
    elseif algo == 's' then e = sliding_window(key, now, limit, w, hits)
    else e = token_bucket(key, now, limit, w, cap, hits) end
    e.state = e.fits and 0 or (shadow and 2 or 1)
    if e.state == 1 then allowed = false end
    evals[i] = e
  end

  local p_start, p_end = billing_period(now, anchor)
  local q = redis.call('HMGET', quota_key, 'p', 'u')
  local used = (tonumber(q[1]) == p_start) and (tonumber(q[2]) or 0) or 0
  if seed_p == p_start and seed_u > used then used = seed_u end
  local q_state = 0
  if quota_limit then
    if used + units <= quota_limit then q_state = 1 elseif overage then q_state = 3 else q_state = 2 end
    if q_state == 2 then allowed = false end
  end

  local c_state, balance, seeding = 0, 0, false
  if cost then
    local stored = tonumber(redis.call('GET', credits_key))
    seeding = stored == nil
    balance = stored or seed
    -- A free call (cost 0) never denies, even on a balance an external correction made negative.
    c_state = (cost == 0 or cost <= balance) and 1 or 2
    if c_state == 2 then allowed = false end
  end

  local records = endpoint ~= ''
  if allowed then
    used = used + units
    if quota_limit or records then
      redis.call('HSET', quota_key, 'p', str(p_start), 'u', str(used))
      -- GC only, once per period: the TTL set at its first write outlives the period by 31 days.
      if tonumber(q[1]) ~= p_start then redis.call('PEXPIRE', quota_key, str(p_end - now + 31 * DAY)) end
    end
    if cost and cost > 0 then
      balance = balance - cost
      redis.call('SET', credits_key, str(balance))
      if seeding and seed_id then redis.call('HSET', quota_key, 'cw', seed_id) end
    end
    if records then
      local field = str(p_start) .. '|' .. endpoint .. '|'
      redis.call('HINCRBY', usage_key, field .. 'calls', 1)
      redis.call('HINCRBY', usage_key, field .. 'units', str(units))
      if cost and cost > 0 then redis.call('HINCRBY', usage_key, field .. 'credits', str(cost)) end
    end
  end

  local out = { allowed and 1 or 0, now, q_state, used, p_start, p_end, c_state, balance }
  for i = 1, n do
    local e = evals[i]
    local consumed = allowed and e.fits
    if consumed then e.write() end
    local rem = consumed and e.rem_after or e.rem_now
    out[#out + 1] = e.state
    out[#out + 1] = math.max(0, rem)
    out[#out + 1] = consumed and e.reset_after or e.reset_now
    out[#out + 1] = (e.state == 0) and 0 or e.retry
  end
  return out
end

-- Main -----------------------------------------------------------------------------------------

-- Redis TIME in ms, read once per call.
local server_now
local function time_ms()
  if not server_now then
    local t = redis.call('TIME')
    server_now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
  end
  return server_now
end

-- ARGV "now" of one decision, or Redis TIME.
local function clock(arg)
  return tonumber(arg) or time_ms()
end

if ARGV[1] ~= '#batch' then
  local n = tonumber(ARGV[11])
  if not n or #KEYS ~= 3 + n or #ARGV ~= 11 + 6 * n then
    return redis.error_reply('ERR decide.lua: expected 3+n keys and 11+6n args')
  end
  return decide(0, 0, clock(ARGV[1]))
end

-- Batch: several decisions, one after the other, each as if called alone; an error in one (e.g. a
-- key of the wrong type) fails only that one, as { -1, message }.
local count, deadline = tonumber(ARGV[2]), tonumber(ARGV[3])
if deadline and time_ms() >= deadline then return { -2, time_ms() } end
local ko, ao = 0, 3
local replies = {}
for d = 1, count do
  local n = tonumber(ARGV[ao + 11])
  if not n or ko + 3 + n > #KEYS or ao + 11 + 6 * n > #ARGV then
    return redis.error_reply('ERR decide.lua: malformed batch')
  end
  local ok, reply = pcall(decide, ko, ao, clock(ARGV[ao + 1]))
  if ok then replies[d] = reply
  else replies[d] = { -1, type(reply) == 'table' and tostring(reply.err) or tostring(reply) } end
  ko, ao = ko + 3 + n, ao + 11 + 6 * n
end
if ko ~= #KEYS or ao ~= #ARGV then return redis.error_reply('ERR decide.lua: malformed batch') end
return replies
