-- Shared by admit.lua and settle.lua (prepended to each by ai_proxy.quota.redis).
-- KEYS[1] is the client's key prefix, "<prefix>:{<client>}:". Every key is named from it
-- here (day and month keys from Redis's own clock, which the caller cannot know); its hash
-- tag keeps them all in KEYS[1]'s slot. ARGV[1] holds the store's settings, space-separated:
-- clock offset, lease seconds, ledger retention days. Numbers travel packed in a few strings:
-- redis-py encodes each argument on its own, a visible part of a call's client-side cost.

local DAY = 86400
local BASE = KEYS[1]
local RATE_KEY, TOKENS_KEY, LEASES_KEY = BASE .. 'rpm', BASE .. 'tpm', BASE .. 'leases'

local function words(packed)
  local found = {}
  for word in string.gmatch(packed, '%S+') do found[#found + 1] = word end
  return found
end

local function numbers(packed)
  local found = words(packed)
  for i = 1, #found do found[i] = tonumber(found[i]) end
  return found
end

local SETTINGS = numbers(ARGV[1])
local CLOCK_OFFSET, LEASE_SECONDS, RETENTION_DAYS = SETTINGS[1], SETTINGS[2], SETTINGS[3]

local function now_seconds()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1e6 + CLOCK_OFFSET
end

-- Numbers as Redis reads them back: floats exactly, integers without an exponent.
local function exact(x)
  return string.format('%.17g', x)
end

local function int(x)
  return string.format('%d', x)
end

-- Days since 1970-01-01 -> proleptic Gregorian year, month, day (era arithmetic, 400-year cycles).
local function civil_from_days(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local MONTH_DAYS = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

local function days_in_month(y, m)
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return 29 end
  return MONTH_DAYS[m]
end

-- The UTC day and month holding `now`: their names and the Unix times they end.
local function periods(now)
  local days = math.floor(now / DAY)
  local y, m, d = civil_from_days(days)
  local day_end = (days + 1) * DAY
  return {
    day = string.format('%04d%02d%02d', y, m, d),
    month = string.format('%04d%02d', y, m),
    day_end = day_end,
    month_end = day_end + (days_in_month(y, m) - d) * DAY,
  }
end

-- A bucket of `size` refilled at `rate` per second, as of `now` (a missing key is full).
local function bucket_balance(key, size, rate, now)
  local state = redis.call('HMGET', key, 'balance', 'at')
  if not state[1] then return size end
  local elapsed = math.max(0, now - tonumber(state[2]))
  return math.min(size, tonumber(state[1]) + elapsed * rate)
end

-- Store a bucket's balance; it expires once it would be full again (+ a margin).
local function bucket_store(key, size, rate, balance, now)
  redis.call('HSET', key, 'balance', exact(balance), 'at', exact(now))
  redis.call('PEXPIRE', key, int(math.ceil(((size - balance) / rate + 1) * 1000)))
end
