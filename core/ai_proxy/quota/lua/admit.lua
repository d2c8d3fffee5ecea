-- admit: ARGV[2] the limits, space-separated: rpm, burst, tpm, concurrency, daily tokens,
-- daily nanousd, monthly tokens, monthly nanousd; ARGV[3] the lease.
-- Returns {0} when admitted, else {refusal code, retry_after, resets_at or ''} (strings for
-- the floats: Lua numbers would reach the client truncated to integers).
local now = now_seconds()
local limits = numbers(ARGV[2])
local rpm, burst, tpm, concurrency = limits[1], limits[2], limits[3], limits[4]

if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', LEASES_KEY, '-inf', exact(now))
  if redis.call('ZCARD', LEASES_KEY) >= concurrency then
    -- A lease frees when some request ends, at no known time: 1 s (memory.py says the same).
    return {3, '1', ''}
  end
end

local rpm_size, rpm_rate, rpm_balance
if rpm > 0 then
  rpm_size = burst > 0 and burst or rpm
  rpm_rate = rpm / 60
  rpm_balance = bucket_balance(RATE_KEY, rpm_size, rpm_rate, now)
  if rpm_balance < 1 then
    return {1, exact((1 - rpm_balance) / rpm_rate), ''}
  end
end

if tpm > 0 then
  local rate = tpm / 60
  local balance = bucket_balance(TOKENS_KEY, tpm, rate, now)
  if balance <= 0 then
    return {2, exact((1 - balance) / rate), ''}
  end
end

-- {limit, period, counter, refusal code}: day before month, tokens before cost.
local budgets = {
  {limits[5], 'day', 't', 4}, {limits[6], 'day', 'u', 6},
  {limits[7], 'month', 't', 5}, {limits[8], 'month', 'u', 7},
}
local p = nil
for _, budget in ipairs(budgets) do
  local limit, period, counter, code = budget[1], budget[2], budget[3], budget[4]
  if limit > 0 then
    p = p or periods(now)
    local spent = tonumber(redis.call('HGET', BASE .. period .. ':' .. p[period], counter) or '0')
    if spent >= limit then
      local ends = p[period .. '_end']
      return {code, exact(ends - now), exact(ends)}
    end
  end
end

if rpm > 0 then
  bucket_store(RATE_KEY, rpm_size, rpm_rate, rpm_balance - 1, now)
end
if concurrency > 0 then
  redis.call('ZADD', LEASES_KEY, exact(now + LEASE_SECONDS), ARGV[3])
  redis.call('PEXPIRE', LEASES_KEY, int(math.ceil(LEASE_SECONDS * 1000)))
end
return {0}
