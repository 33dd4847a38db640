-- Hold or renew the tick lease. KEYS: lease. ARGV: worker id, ttl ms. Returns 1 if held.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
