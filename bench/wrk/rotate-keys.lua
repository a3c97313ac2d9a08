-- wrk: rotate x-api-key over the keys of a file, one key per request (pre-built requests, so the
-- loader spends nothing per request). Usage: wrk -s rotate-keys.lua URL -- KEYS_FILE PATH
-- Prints one line "JSON:{...}" with latency percentiles (µs) and counts in done().
local reqs, n, i = {}, 0, 0

function init(args)
  local file, path = args[1], args[2] or "/check"
  for key in io.lines(file) do
    n = n + 1
    reqs[n] = wrk.format("GET", path, {
      ["x-api-key"] = key,
      ["X-Original-URI"] = "/v1/things/42?expand=1",
      ["X-Original-Method"] = "GET",
      ["Host"] = "api.example.com",
    })
  end
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON:{"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
