-- settle: ARGV[2] the lease ('' = none), ARGV[3] tokens_per_minute; with a spend, ARGV[4]
-- the model and ARGV[5] its counts, space-separated: input, output, cache read, cache write
-- tokens, nanousd.
local now = now_seconds()
if ARGV[2] ~= '' then
  redis.call('ZREM', LEASES_KEY, ARGV[2])
end
if #ARGV < 5 then return 0 end

local tpm = tonumber(ARGV[3])
local model = ARGV[4]
local counts = words(ARGV[5])
local input, output, cache_read, cache_write, nanousd =
  counts[1], counts[2], counts[3], counts[4], counts[5]
local tokens = tonumber(input) + tonumber(output) + tonumber(cache_read) + tonumber(cache_write)

if tpm > 0 then
  local rate = tpm / 60
  bucket_store(TOKENS_KEY, tpm, rate, bucket_balance(TOKENS_KEY, tpm, rate, now) - tokens, now)
end

-- Budget counters are kept whether or not the key has a budget now, so a budget configured
-- mid-month counts the month's spend so far.
local p = periods(now)
for _, period in ipairs({'day', 'month'}) do
  local key = BASE .. period .. ':' .. p[period]
  redis.call('HINCRBY', key, 't', int(tokens))
  redis.call('HINCRBY', key, 'u', nanousd)
  redis.call('PEXPIRE', key, int(math.ceil((p[period .. '_end'] - now + DAY) * 1000)))
end

-- One hash per client and day, fields "<counter>:<model>" (ai_proxy.quota.redis reads them).
local ledger = BASE .. 'usage:' .. p.day
for counter, amount in pairs({n = '1', i = input, o = output, cr = cache_read,
    cw = cache_write, u = nanousd}) do
  redis.call('HINCRBY', ledger, counter .. ':' .. model, amount)
end
redis.call('PEXPIRE', ledger, int(RETENTION_DAYS * DAY * 1000))
return 0
