-- The sessions whose deadline has come, for the worker holding the tick lease (each
-- stays due until the ticker's step on it sets its next deadline).
-- KEYS: the due index. ARGV: now (ms), how many at most.
-- Returns {this server's run id, session keys...}: a new run id means the index may
-- have lost entries (a restart, a restore, a failover), and the ticker looks at
-- every live session once.
local found = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
return {run, unpack(found)}
