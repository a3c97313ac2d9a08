-- Counters: the ONE atomic decision over an account's rate limits, monthly quota and credits.
--
-- Run as a Redis Function (FCALL; decide-function.ts registers `main`), so the helpers, parsed specs
-- and memos below are built once per Redis, not once per call; or as a script (EVALSHA) where Redis
-- refuses Functions. Either way one call is atomic, and nothing a call leaves behind changes the next
-- one's answer: the caches hold pure results, and the scratch arrays are written before they are read.
--
-- All or nothing: every limit, the quota and the credits are evaluated first; if any non-shadow
-- check denies, nothing is written. Otherwise all are consumed together and usage is recorded.
-- State lives in explicit hash fields (window start, TAT); PEXPIRE is garbage collection only,
-- because the caller's clock (ARGV[1]) may differ from the server's.
--
-- One hash per account holds the quota and every limit's state, so a decision reads it with ONE
-- HMGET and writes it with ONE HSET (Redis spends more per redis.call than on the Lua around it).
--
-- KEYS (every key shares the hash tag {a:<accountId>}: one Redis Cluster slot), only those the spec
-- uses, in this order (each argument costs Redis about 0.06 µs to read):
--   quota    {a:ID}:quota    hash   always: the account's counters:
--              p = quota period start (ms), u = units used in that period (kept only while a
--                quota limit is in force: nothing else reads it),
--              cw = highest ledger row id of the last credit seed (apply-credits.lua),
--              x = when the hash may expire (ms, the caller's clock; GC only, see below),
--              l:<limit id>:<f> = state of one limit:
--                fixed_window   s = window start ms, c = count
--                sliding_window s = current window start ms, c = current count, p = previous count
--                token_bucket   t = TAT, whole ms; r = TAT remainder in 1/limit ms (exact GCRA)
--   credits  {a:ID}:credits  string with a credit cost: the live credit balance (integer); absent =
--                                    the credit seed
--   usage    {a:ID}:usage    hash   with an endpoint, HINCRBY'd (renamed away whole by take-usage.lua):
--                                    a call of 1 unit "<periodStartMs>|<endpoint>|n:1:<credits>", one
--                                    field that counts such calls (one HINCRBY, not one per metric);
--                                    any other "...|calls", "...|units" and "...|credits"
--   record   {a:ID}:r:<id>   string with a reservation (see the spec's hold):
--                                    "<period start>|<units>|<credits>|<endpoint>", set with PX, for settle.lua
-- ARGV, likewise only those the spec uses:
--   1 now, ms since the epoch; "" = use Redis TIME
--   2 spec: what a decision asks, the same for every call of one plan and endpoint, so a batch parses
--     each distinct spec once. Fields joined by "|" (no field holds one):
--       anchor day 1..31 (1 = calendar month, UTC) | units this call consumes from the quota |
--       quota limit ("" = unlimited; usage is still recorded) | overage "1" soft gate, "0" hard |
--       credit cost ("" = no credits) | hold: ms to keep a reservation ("" = none; set: the units and
--       credits are a reservation, recorded in the record key when allowed) | endpoint ("" = counters only,
--       the RLS path: no usage record, and no quota fields unless a quota is set) | n limits |
--       then 7 per limit: algorithm (f fixed | s sliding | t token) | limit | windowMs |
--       capacity (token_bucket burst; = limit otherwise) | shadow "1"/"0" | hits | limit id
--   with a credit cost: credit seed, the balance assumed when the credits key is absent (written only on
--     an allowed debit), optionally ":<ledger id>", the highest ledger row the seed holds: written with
--     the seed as the quota hash's field cw, so apply-credits.lua never adds a row the seed already holds
--   with a quota limit: quota seed period start ms ("" = no seed), then quota seed units:
--     what Postgres already holds for that period (flushed usage). When the seed is for the current
--     period, used = max(the quota hash's count, seed): a no-op normally (Redis counts everything
--     Postgres has, and more), but after Redis lost its data the quota continues from Postgres
--     instead of 0; a new period starts at 0.
-- Batch form: ARGV[1] = "#batch", ARGV[2] = count, ARGV[3] = deadline (Redis TIME in ms; "" = none),
-- then each decision's ARGV in turn; KEYS likewise concatenated.
-- Returns the replies (below) of all decisions one after the other in ONE flat array (each is 8+4n,
-- 3+4n or 2+4n long, n of that decision), or -1, message in place of a decision whose evaluation failed
-- (a batch of one fails as the whole call does, with an error reply: it skips the per-decision guard);
-- all run in one atomic script call. Past the deadline nothing is read or written and the reply is
-- { -2, Redis TIME ms }: the caller may already have answered "unavailable" for these decisions (it
-- waits until the deadline has passed before it does), so they must never be counted.
-- Returns a flat array of integers:
--   [1] allowed 1|0  [2] now ms
--   then, when the spec has a quota limit or a credit cost (the head is then 8 long):
--   [3] quota state 0 none|1 ok|2 denied|3 overage
--   [4] quota used after the decision (0 without a quota limit)  [5] period start ms  [6] period end ms
--   [7] credits state 0 none|1 ok|2 denied  [8] credit balance after the decision
--   or, with neither but an endpoint (a usage record only: the head is 3 long):
--   [3] period start ms (uncount.lua is given it to take the record back)
--   and nothing more for counters only (an RLS call: the head is 2 long). Each integer costs Redis a
--   reply entry, about 0.06 µs.
--   then 4 per limit: state 0 ok|1 denied|2 shadow_denied, remaining, resetMs, retryAfterMs
--
-- Expiry (GC only): the hash must outlive its quota period by 31 days and each limit's state by its
-- window (a sliding window's count is read in the next one). A write that needs it to live past x
-- sets x to that time plus GC_SLACK_MS and PEXPIREs: about once a minute per busy account.

local DAY = 86400000
local GC_SLACK_MS = 60000
-- Globals are read when the first call starts: a Redis Function's library is loaded where only
-- `redis` is visible.
local floor, unpack_all

-- floor(a / b) for integers below 2^53, exact (corrects the rounding of the float division).
local function idiv(a, b)
  local q = floor(a / b)
  local r = a - q * b
  if r < 0 then q = q - 1 elseif r >= b then q = q + 1 end
  return q
end
local function ceil_div(a, b) return -idiv(-a, b) end
-- Integers go to redis.call as Lua numbers: Redis writes one below 10^14 exactly (Redis 6 formats
-- %.14g, 7+ %.17g), and a ms timestamp or a count here stays far below that.
--
-- Formatting a number and parsing one (printf, strtod) cost Redis more than a tenth of a decision, so
-- values that repeat across the decisions of a call (a window start, a period start, a small count)
-- go through these memos, and a stored window or period start is compared as text.
-- Run as a Redis Function the memos outlive the call, so they are dropped whole once they hold
-- MEMO_MAX entries (checked when a call starts: a window start or a count seen once stays otherwise).
local MEMO_MAX = 4096
local texts, numbers, memos = {}, {}, 0
local function text(n)
  local t = texts[n]
  if t == nil then
    t = string.format('%.0f', n)
    texts[n] = t
    memos = memos + 1
  end
  return t
end
local function number(t)
  if t == false then return nil end -- HMGET's nil
  local n = numbers[t]
  if n == nil then
    n = tonumber(t)
    numbers[t] = n
    memos = memos + 1
  end
  return n
end

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

-- The last period computed, per anchor day: the decisions of one script call share their day.
local period_day, period_start, period_end = {}, {}, {}

local function compute_period(today, anchor)
  local y, m = civil_from_days(today)
  local start = anchor_in(y, m, anchor)
  if today >= start then return start * DAY, anchor_in(y, m + 1, anchor) * DAY end
  return anchor_in(y, m - 1, anchor) * DAY, start * DAY
end

local function billing_period(now, anchor)
  local today = floor(now / DAY)
  if period_day[anchor] ~= today then
    period_day[anchor] = today
    period_start[anchor], period_end[anchor] = compute_period(today, anchor)
  end
  return period_start[anchor], period_end[anchor]
end

-- Specs ----------------------------------------------------------------------------------------

-- The state fields each algorithm keeps under l:<id>:, in the order an evaluator reads them.
local FIELDS = { f = { 's', 'c' }, s = { 's', 'c', 'p' }, t = { 't', 'r' } }

local function split(text)
  local parts, from = {}, 1
  while true do
    local bar = string.find(text, '|', from, true)
    if not bar then
      parts[#parts + 1] = string.sub(text, from)
      return parts
    end
    parts[#parts + 1] = string.sub(text, from, bar - 1)
    from = bar + 1
  end
end

-- A spec parsed: numbers read, field names built, the HMGET field list laid out. nil if malformed.
local function parse_spec(text)
  local v = split(text)
  local n = tonumber(v[8])
  if not n or #v ~= 8 + 7 * n then return nil end
  local sp = {
    anchor = tonumber(v[1]), units = tonumber(v[2]), units_text = v[2], quota = tonumber(v[3]), overage = v[4] == '1',
    cost = tonumber(v[5]), hold = tonumber(v[6]), endpoint = v[7], n = n, read = {}, limits = {},
  }
  if not sp.anchor or not sp.units then return nil end
  for i = 1, n do
    local b = 8 + (i - 1) * 7
    local algo = v[b + 1]
    local names = FIELDS[algo]
    local limit = {
      algo = algo, limit = tonumber(v[b + 2]), w = tonumber(v[b + 3]), cap = tonumber(v[b + 4]),
      shadow = v[b + 5] == '1', hits = tonumber(v[b + 6]), at = #sp.read + 1, fields = {},
    }
    if not names or not limit.limit or not limit.w or not limit.cap or not limit.hits then return nil end
    for j, f in ipairs(names) do
      limit.fields[j] = 'l:' .. v[b + 7] .. ':' .. f
      sp.read[#sp.read + 1] = limit.fields[j]
    end
    sp.limits[i] = limit
  end
  -- Where each optional key and argument sits, from the decision's first (see the header).
  local has_usage = sp.endpoint ~= ''
  sp.credits_at = 2
  sp.usage_at = sp.credits_at + (sp.cost and 1 or 0)
  sp.record_at = sp.usage_at + (has_usage and 1 or 0)
  sp.nkeys = sp.record_at - 1 + (sp.hold and 1 or 0)
  sp.seed_at = 3 + (sp.cost and 1 or 0)
  sp.nargs = sp.seed_at - 1 + (sp.quota and 2 or 0)
  -- The quota count is read only where a quota limit is in force (nothing else reads it).
  if sp.quota then
    sp.quota_at = #sp.read + 1
    sp.read[#sp.read + 1], sp.read[#sp.read + 2] = 'p', 'u'
  end
  sp.expires_at = #sp.read + 1
  sp.read[#sp.read + 1] = 'x'
  return sp
end

-- Parsed once per distinct spec: per script call, or while the Function is loaded (bounded as above).
local specs = {}
local function spec_of(text)
  local sp = specs[text]
  if sp == nil then
    sp = parse_spec(text) or false
    specs[text] = sp
    memos = memos + 1
  end
  return sp
end

-- The usage fields "<period start>|<endpoint>|calls" (units, credits), and for a call of 1 unit the
-- one field "...|n:1:<credits>" that counts such calls, built once per spec and period:
-- string.format and concatenation cost about as much as a redis.call.
local function usage_fields(sp, p_start)
  if sp.usage_period ~= p_start then
    local prefix = string.format('%.0f', p_start) .. '|' .. sp.endpoint .. '|'
    sp.usage_period = p_start
    sp.calls_field, sp.units_field, sp.credits_field = prefix .. 'calls', prefix .. 'units', prefix .. 'credits'
    sp.per_call_field = prefix .. 'n:1:' .. string.format('%.0f', sp.cost or 0)
  end
  return sp.calls_field, sp.units_field, sp.credits_field, sp.per_call_field
end

-- Limits. Tables and closures are what costs most in Redis' Lua (allocation and its GC, more than a
-- redis.call), so an evaluator writes its results into ONE scratch array, SLOTS per limit i from
-- x = (i - 1) * SLOTS, reused by every decision of the script call; a consuming write reads them back.
-- An evaluator reads the limit's fields from the HMGET reply st, from index a.
local L = {}
local FITS, REM_NOW, REM_AFTER, RESET_NOW, RESET_AFTER, RETRY, STATE = 1, 2, 3, 4, 5, 6, 7
-- What a consuming write sets: two or three field values (A, B, C), and until when the state is
-- needed (ms, the caller's clock: GC only).
local A, B, C, KEEP = 8, 9, 10, 11
local SLOTS = 11

local function fixed_window(x, st, a, now, limit, w, hits)
  local s = idiv(now, w) * w
  local count = (st[a] == text(s)) and (number(st[a + 1]) or 0) or 0
  local reset = s + w - now
  -- A denied call fits once the window rolls over (never, if hits > limit: still the window end).
  L[x + FITS], L[x + REM_NOW], L[x + REM_AFTER] = count + hits <= limit, limit - count, limit - count - hits
  L[x + RESET_NOW], L[x + RESET_AFTER], L[x + RETRY] = reset, reset, reset
  L[x + A], L[x + B], L[x + KEEP] = text(s), text(count + hits), s + w
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
local function sliding_window(x, st, a, now, limit, w, hits)
  local s = idiv(now, w) * w
  local at, cur, prev = st[a], 0, 0
  if at == text(s) then cur, prev = number(st[a + 1]) or 0, number(st[a + 2]) or 0
  elseif at == text(s - w) then prev = number(st[a + 1]) or 0 end
  local room = limit * w - prev * (w - (now - s))
  local fits = (cur + hits) * w <= room
  local reset = s + w - now
  L[x + FITS], L[x + REM_NOW], L[x + REM_AFTER] = fits, idiv(room - cur * w, w), idiv(room - (cur + hits) * w, w)
  L[x + RESET_NOW], L[x + RESET_AFTER] = reset, reset
  L[x + RETRY] = fits and 0 or sliding_retry(now, s, w, limit, cur, prev, hits)
  -- This window's count is read as the previous one until the next window ends.
  L[x + A], L[x + B], L[x + C], L[x + KEEP] = text(s), text(cur + hits), text(prev), s + 2 * w
end

-- GCRA in ticks of 1/limit ms, so the emission interval T = windowMs/limit ms is exactly w ticks.
-- backlog = TAT - now (>= 0); a call fits if backlog + hits*T <= capacity*T.
local function bucket_remaining(full, w, b) return idiv(full - b, w) end
-- ms until one more token: backlog must drop to full - (remaining + 1) * T; 0 when full.
local function bucket_reset(full, w, cap, limit, b)
  local r = bucket_remaining(full, w, b)
  if r >= cap then return 0 end
  return ceil_div(b - (full - (r + 1) * w), limit)
end

local function token_bucket(x, st, a, now, limit, w, cap, hits)
  local tat = tonumber(st[a])
  local backlog = 0
  if tat and tat >= now then backlog = (tat - now) * limit + (tonumber(st[a + 1]) or 0) end
  local full, after = cap * w, backlog + hits * w
  local fits = after <= full
  L[x + FITS] = fits
  L[x + REM_NOW], L[x + REM_AFTER] = bucket_remaining(full, w, backlog), bucket_remaining(full, w, after)
  L[x + RESET_NOW] = bucket_reset(full, w, cap, limit, backlog)
  L[x + RESET_AFTER] = bucket_reset(full, w, cap, limit, after)
  -- ms until this call fits (hits > capacity never fits: the value then exceeds a full refill).
  L[x + RETRY] = fits and 0 or ceil_div(backlog - (full - hits * w), limit)
  local whole = idiv(after, limit)
  -- Past the TAT the bucket is full: no state is needed (one window more, for clock skew).
  L[x + A], L[x + B], L[x + KEEP] = now + whole, after - whole * limit, now + ceil_div(after, limit) + w
end

-- One decision ---------------------------------------------------------------------------------

-- The HSET arguments of one decision, reused: field, value, field, value, ...
local W = {}
-- The call's KEYS and ARGV (a Redis Function is handed them; a script has them as globals).
local Keys, Argv

-- The decision over Keys[ko+1 ..] and Argv[ao+1 ..] (the layout above, shifted by the offsets), at
-- `now`; appends its reply to `out`. Reads come before writes: a key of the wrong type met by a read
-- fails the decision before anything is written.
local function decide(ko, ao, sp, now, out)
  local quota_key = Keys[ko + 1]
  local credits_key = sp.cost and Keys[ko + sp.credits_at]
  local usage_key = sp.endpoint ~= '' and Keys[ko + sp.usage_at]
  local n, units, quota_limit, cost = sp.n, sp.units, sp.quota, sp.cost
  local st = redis.call('HMGET', quota_key, unpack_all(sp.read))

  local allowed = true
  for i = 1, n do
    local l = sp.limits[i]
    local x = (i - 1) * SLOTS
    if l.algo == 'f' then fixed_window(x, st, l.at, now, l.limit, l.w, l.hits)
    elseif l.algo == 's' then sliding_window(x, st, l.at, now, l.limit, l.w, l.hits)
    else token_bucket(x, st, l.at, now, l.limit, l.w, l.cap, l.hits) end
    local state = L[x + FITS] and 0 or (l.shadow and 2 or 1)
    L[x + STATE] = state
    if state == 1 then allowed = false end
  end

  local p_start, p_end = billing_period(now, sp.anchor)
  local qa, p_text, used = sp.quota_at, nil, 0
  local q_state = 0
  if quota_limit then
    p_text = text(p_start)
    used = (st[qa] == p_text) and (tonumber(st[qa + 1]) or 0) or 0
    local seed_at = ao + sp.seed_at
    if Argv[seed_at] == p_text then
      local seed_u = tonumber(Argv[seed_at + 1])
      if seed_u > used then used = seed_u end
    end
    if used + units <= quota_limit then q_state = 1 elseif sp.overage then q_state = 3 else q_state = 2 end
    if q_state == 2 then allowed = false end
  end

  local c_state, balance, seeding, seed_id = 0, 0, false, nil
  if cost then
    local stored = tonumber(redis.call('GET', credits_key))
    seeding = stored == nil
    if seeding then
      local seed_arg = Argv[ao + 3]
      local colon = string.find(seed_arg, ':', 1, true)
      balance = tonumber(colon and string.sub(seed_arg, 1, colon - 1) or seed_arg)
      seed_id = colon and string.sub(seed_arg, colon + 1) or nil
    else balance = stored end
    -- A free call (cost 0) never denies, even on a balance an external correction made negative.
    c_state = (cost == 0 or cost <= balance) and 1 or 2
    if c_state == 2 then allowed = false end
  end

  local records = sp.endpoint ~= ''
  if allowed then
    -- One HSET: each limit that fits, the quota count, the seed mark, the expiry mark.
    local m, keep = 0, 0
    for i = 1, n do
      local x = (i - 1) * SLOTS
      if L[x + FITS] then
        local f = sp.limits[i].fields
        -- A window start, and a sliding window's previous count (which changes only with it), is
        -- written only when the window moved on: a token bucket's TAT (a number) always is.
        if st[sp.limits[i].at] ~= L[x + A] then
          W[m + 1], W[m + 2] = f[1], L[x + A]
          m = m + 2
          if f[3] then W[m + 1], W[m + 2] = f[3], L[x + C]; m = m + 2 end
        end
        W[m + 1], W[m + 2] = f[2], L[x + B]
        m = m + 2
        if L[x + KEEP] > keep then keep = L[x + KEEP] end
      end
    end
    if quota_limit then
      used = used + units
      if st[qa] ~= p_text then W[m + 1], W[m + 2] = 'p', p_text; m = m + 2 end
      W[m + 1], W[m + 2] = 'u', used
      m = m + 2
      if p_end + 31 * DAY > keep then keep = p_end + 31 * DAY end
    end
    if cost and cost > 0 then
      balance = balance - cost
      redis.call('SET', credits_key, balance)
      if seeding and seed_id then W[m + 1], W[m + 2] = 'cw', seed_id; m = m + 2 end
    end
    local expires = number(st[sp.expires_at]) or 0
    if m > 0 and keep > expires then W[m + 1], W[m + 2] = 'x', keep + GC_SLACK_MS; m = m + 2 end
    if m > 0 then
      redis.call('HSET', quota_key, unpack_all(W, 1, m))
      if keep > expires then redis.call('PEXPIRE', quota_key, keep + GC_SLACK_MS - now) end
    end
    if records then
      local calls_field, units_field, credits_field, per_call_field = usage_fields(sp, p_start)
      -- One field per (units, credits) pair would grow with metered units: only 1-unit calls get one.
      if units == 1 then redis.call('HINCRBY', usage_key, per_call_field, '1')
      else
        redis.call('HINCRBY', usage_key, calls_field, '1')
        redis.call('HINCRBY', usage_key, units_field, sp.units_text)
        if cost and cost > 0 then redis.call('HINCRBY', usage_key, credits_field, cost) end
      end
    end
    if sp.hold then
      local record_key = Keys[ko + sp.record_at]
      local record = string.format('%.0f|%.0f|%.0f|', p_start, units, cost or 0) .. sp.endpoint
      redis.call('SET', record_key, record, 'PX', sp.hold)
    end
  end

  local o = #out
  out[o + 1], out[o + 2] = allowed and 1 or 0, now
  o = o + 2
  if quota_limit or cost then
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = q_state, used, p_start, p_end
    out[o + 5], out[o + 6] = c_state, balance
    o = o + 6
  elseif records then
    out[o + 1] = p_start
    o = o + 1
  end
  for i = 1, n do
    local x = (i - 1) * SLOTS
    local consumed = allowed and L[x + FITS]
    local rem = consumed and L[x + REM_AFTER] or L[x + REM_NOW]
    out[o + 1] = L[x + STATE]
    out[o + 2] = rem > 0 and rem or 0
    out[o + 3] = consumed and L[x + RESET_AFTER] or L[x + RESET_NOW]
    out[o + 4] = (L[x + STATE] == 0) and 0 or L[x + RETRY]
    o = o + 4
  end
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

-- One decision, its ARGV after `skip` values (the plain form: none; a batch of one: its head of 3).
local function decide_one(skip, malformed)
  local sp = #Argv >= skip + 2 and spec_of(Argv[skip + 2])
  if not sp or #Keys ~= sp.nkeys or #Argv ~= skip + sp.nargs then
    return redis.error_reply(malformed)
  end
  local out = {}
  decide(0, skip, sp, clock(Argv[skip + 1]), out)
  return out
end

-- Batch: several decisions, one after the other, each as if called alone; an error in one (e.g. a
-- key of the wrong type) fails only that one, as -1, message.
local function decide_batch()
  local count, deadline = tonumber(Argv[2]), tonumber(Argv[3])
  if deadline and time_ms() >= deadline then return { -2, time_ms() } end
  -- One decision (what an idle store sends): an error is the call's own, so no pcall is needed.
  if count == 1 then return decide_one(3, 'ERR decide.lua: malformed batch') end
  -- The whole layout is checked before any decision runs: a malformed batch writes nothing.
  local ko, ao = 0, 3
  for _ = 1, count or 0 do
    local sp = ao + 2 <= #Argv and spec_of(Argv[ao + 2])
    if not sp then return redis.error_reply('ERR decide.lua: malformed batch') end
    ko, ao = ko + sp.nkeys, ao + sp.nargs
  end
  if not count or ko ~= #Keys or ao ~= #Argv then
    return redis.error_reply('ERR decide.lua: malformed batch')
  end
  ko, ao = 0, 3
  local out = {}
  for _ = 1, count do
    local sp = spec_of(Argv[ao + 2])
    local mark = #out
    local ok, err = pcall(decide, ko, ao, sp, clock(Argv[ao + 1]), out)
    if not ok then
      -- Nothing of a failed decision stays in the reply (it appends only once all its work is done).
      for j = #out, mark + 1, -1 do out[j] = nil end
      out[mark + 1], out[mark + 2] = -1, type(err) == 'table' and tostring(err.err) or tostring(err)
    end
    ko, ao = ko + sp.nkeys, ao + sp.nargs
  end
  return out
end

-- One call, as a script (EVALSHA) or as a Redis Function (FCALL; the store registers `main` under a
-- name of its own, in place of the last line below).
local function main(keys, args)
  Keys, Argv, server_now = keys, args, nil
  if not floor then floor, unpack_all = math.floor, unpack end
  if memos > MEMO_MAX then texts, numbers, specs, memos = {}, {}, {}, 0 end
  if Argv[1] == '#batch' then return decide_batch() end
  return decide_one(0, 'ERR decide.lua: the keys and args do not match the spec')
end

return main(KEYS, ARGV)
