-- Counters: envoyproxy/ratelimit's fixed-window count (its redis fixed_cache_impl pipelines INCRBY and
-- EXPIRE per key). KEYS: the counters; ARGV: hits and TTL seconds per key, in KEYS order.
-- Returns the values after adding. The TTL is set only when the key has none, so a counter never
-- outlives its window by more than one window.
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('INCRBY', key, ARGV[2 * i - 1])
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[2 * i])
  end
  out[i] = value
end
return out
