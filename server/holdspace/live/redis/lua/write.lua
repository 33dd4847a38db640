-- Write one step's result: compare-and-set the session's state, append the step's
-- events and notices to the log, and publish them (with the parts written, for
-- followers that keep a copy of the state) if anyone else listens.
-- KEYS: state, log, followers.
-- ARGV: see holdspace.live.redis.scripts.write_args (fixed fields, then the rows,
-- the replaced entries, the parts written and the parts deleted), and last this
-- server's run id (the caller learns it when its connection is made: see
-- holdspace.live.redis.pipelined).
-- Returns {1, new version, previous entry id, new entry ids...}; on a version
-- conflict, {0, version, the hash's fields and values...}; and {2, the same...} when
-- the state was last written by another Redis (before a restart, a restore or a
-- failover, which may have lost its last writes): the step must start a new epoch.
local held = redis.call('HMGET', KEYS[1], 'v', 'run', 'last', 'epoch', 'exp', 'trim')
local current = held[1] or '0'
if current ~= ARGV[1] then
  return {0, current, unpack(redis.call('HGETALL', KEYS[1]))}
end
-- This server's run id: a new one with every start, and another on a replica.
local run = ARGV[#ARGV]
if current ~= '0' and held[2] ~= run then
  local renewing = ARGV[14] == '1' and held[4] ~= ARGV[3]
  if not renewing then
    return {2, current, unpack(redis.call('HGETALL', KEYS[1]))}
  end
end
local n, r = tonumber(ARGV[9]), tonumber(ARGV[10])
local at = 15 + n * 5
if r > 0 then
  -- Rewrite the log into a fresh key: an edited entry's old bytes must not linger.
  local new = {}
  for k = 0, r - 1 do new[ARGV[at + 2 * k]] = ARGV[at + 2 * k + 1] end
  local entries = redis.call('XRANGE', KEYS[2], '-', '+')
  redis.call('DEL', KEYS[2])
  for _, entry in ipairs(entries) do
    local f = entry[2]
    local m = {}
    for k = 1, #f, 2 do m[f[k]] = f[k + 1] end
    if m.t == '' and new[m.s] then m.f = new[m.s] end
    redis.call('XADD', KEYS[2], entry[1], 'p', m.p, 's', m.s, 'f', m.f, 't', m.t, 'g', m.g,
      'x', m.x)
  end
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local prev = held[3] or '0-0'
-- Ids grow from the session's own last id, not the stream's: the stream may have
-- been trimmed empty or rewritten, and an id must never repeat or go back.
local ms, sq = string.match(prev, '^(%d+)-(%d+)$')
ms, sq = tonumber(ms), tonumber(sq)
local last, ids = prev, {}
for k = 0, n - 1 do
  local i = 15 + k * 5
  if now_ms > ms then ms, sq = now_ms, 0 else sq = sq + 1 end
  last = string.format('%d-%d', ms, sq)
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], last, 'p', ids[#ids] or prev, 's', ARGV[i],
    'f', ARGV[i + 1], 't', ARGV[i + 2], 'g', ARGV[i + 3], 'x', ARGV[i + 4])
  ids[#ids + 1] = last
end
local version = '0'
if ARGV[2] ~= '1' then
  local step = 1
  if current == '0' or ARGV[14] == '1' then
    -- A new history (a session begun, or begun again under a new epoch because an
    -- earlier Redis may have lost its last writes) starts far past any version of
    -- another history a worker may still remember: a version is never reused.
    step = 16777216 + now_ms % 268435456
  end
  version = tostring(tonumber(current) + step)
end
local h, d = tonumber(ARGV[11]), tonumber(ARGV[12])
local parts = at + r * 2
if n > 0 then
  -- The caller delivers to its own subscribers: publish only if someone else listens.
  local listening = redis.call('PUBSUB', 'NUMSUB', KEYS[1])[2]
  local followers = redis.call('SMEMBERS', KEYS[3])
  if listening > 1 or (listening == 1 and (#followers ~= 1 or followers[1] ~= ARGV[13])) then
    local message = prev .. '\n' .. table.concat(ids, ' ') .. '\n' .. ARGV[5]
    -- Followers that keep their copy of the state current (named with a '+') get the
    -- parts the step wrote, so their next step need not lose the compare-and-set to
    -- this one; a follower of an older version, or one not in the set, gets the batch.
    local current_copies = listening <= #followers
    for _, f in ipairs(followers) do
      if string.sub(f, -1) ~= '+' then current_copies = false end
    end
    if current_copies then
      message = message .. '\n' .. current .. ' ' .. version .. ' ' .. h .. ' ' .. d
      if h + d > 0 then
        message = message .. '\n' .. table.concat(ARGV, '\n', parts, parts + h * 2 + d - 1)
      end
    end
    redis.call('PUBLISH', KEYS[1], message)
  end
end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return {1, '0', prev, unpack(ids)}
end
local set = {'v', version, 'epoch', ARGV[3], 'seq', ARGV[4], 'last', last, 'run', run}
if n > 0 and now_ms - tonumber(held[6] or '0') >= 60000 then
  -- Entries past their age go once a minute, not on every step: a resume can only
  -- gain from one that lingers that long.
  redis.call('XTRIM', KEYS[2], 'MINID', tostring(now_ms - tonumber(ARGV[7])))
  set[#set + 1], set[#set + 2] = 'trim', tostring(now_ms)
end
-- The keys' expiry, set when it moves (or the log was made afresh), not on every step.
local expire = tostring(math.max(tonumber(ARGV[8]), now_ms + 3600000))
local expiring = expire ~= held[5] or r > 0 or (n > 0 and prev == '0-0')
if expiring then
  set[#set + 1], set[#set + 2] = 'exp', expire
end
for k = parts, parts + h * 2 - 1 do set[#set + 1] = ARGV[k] end
redis.call('HSET', KEYS[1], unpack(set))
if d > 0 then
  redis.call('HDEL', KEYS[1], unpack(ARGV, parts + h * 2, parts + h * 2 + d - 1))
end
if expiring then
  redis.call('PEXPIREAT', KEYS[1], expire)
  redis.call('PEXPIREAT', KEYS[2], expire)
  redis.call('PEXPIREAT', KEYS[3], expire)
end
return {1, version, prev, unpack(ids)}
