-- wrk: 1,000,000 distinct keys, most unknown. 1 request in 4 carries one of the valid keys of
-- KEYS_FILE (rotating); the others carry one of 999,000 unknown keys, drawn with a skew
-- (id = floor(999000 * r^3)): a long tail seen once, and hot junk keys that repeat, so both the
-- negative cache and its misses show. Usage: wrk -s million-keys.lua URL -- KEYS_FILE
local valid, n, i, seq = {}, 0, 0, 0
-- globals (not local): done() reads them with thread:get()
seen, distinct_unknown, unknown_requests = {}, 0, 0
local UNKNOWN = 999000

function init(args)
  for key in io.lines(args[1]) do n = n + 1; valid[n] = key end
  math.randomseed(42 + (tonumber(args[2]) or 0))
end

-- Well-formed (tg_live_ + 32 base32 characters), so the key filter, not the format check, refuses them.
local B32 = "abcdefghijklmnopqrstuvwxyz234567"
local function unknown_key(id)
  local out = {}
  for j = 1, 32 do
    local d = id % 32
    id = math.floor(id / 32)
    out[j] = B32:sub(d + 1, d + 1)
  end
  return "tg_live_" .. table.concat(out)
end

local function req(key)
  return wrk.format("GET", "/check", {
    ["x-api-key"] = key, ["X-Original-URI"] = "/v1/things", ["X-Original-Method"] = "GET", ["Host"] = "api.example.com",
  })
end

function request()
  seq = seq + 1
  if seq % 4 == 0 then
    i = i % n + 1
    return req(valid[i])
  end
  local r = math.random()
  local id = math.floor(UNKNOWN * r * r * r)
  unknown_requests = unknown_requests + 1
  if not seen[id] then seen[id] = true; distinct_unknown = distinct_unknown + 1 end
  return req(unknown_key(id))
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local du, ur = 0, 0
  for _, t in ipairs(threads) do du = du + t:get("distinct_unknown"); ur = ur + t:get("unknown_requests") end
  local e = summary.errors
  io.write(string.format(
    'JSON:{"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non2xx":%d,"distinct_unknown":%d,"unknown_requests":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, du, ur))
end
