-- Room events after a seq, for a resuming client. KEYS: state, log. ARGV: epoch, seq.
-- Returns false when the log can't prove it has them all, else a flat list of
-- (seq, frame, final) triples, newest first.
local st = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if not st[1] or st[1] ~= ARGV[1] then return false end
local have, want = tonumber(st[2]), tonumber(ARGV[2])
if want > have then return false end
local out = {}
if want == have then return out end
local oldest = nil
local upper = '+'
while true do
  local batch = redis.call('XREVRANGE', KEYS[2], upper, '-', 'COUNT', (have - want) * 2 + 16)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    local f = entry[2]
    local m = {}
    for k = 1, #f, 2 do m[f[k]] = f[k + 1] end
    if m.t == '' then
      local s = tonumber(m.s)
      if s <= want then return out end
      out[#out + 1] = m.s
      out[#out + 1] = m.f
      out[#out + 1] = m.x
      oldest = s
    end
    upper = '(' .. entry[1]
  end
end
if oldest == want + 1 then return out end
return false
