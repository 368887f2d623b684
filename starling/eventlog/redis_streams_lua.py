"""The Lua scripts of the Redis Streams log (eventlog/redis_streams.py). Each touches one
partition stream (KEYS[1]), so each runs on the node that holds it, also on a cluster;
each is atomic, which is what lets one consumer hold a partition at a time.
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

# `call` is a local, saving a global lookup per command.
_CALL = """
local call = redis.call
"""

_HELPERS = (
    _CALL
    + """
-- The group's XINFO GROUPS fields (flat name/value arrays) as a table, or nil.
local function group_info(key, group)
  for _, flat in ipairs(call('XINFO', 'GROUPS', key)) do
    local info = {}
    for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
    if info['name'] == group then return info end
  end
end

-- Entries not yet delivered to the group. XINFO's lag also counts entries trimmed before
-- the group read them (or is nil), so it is bounded by what the stream still holds.
local function undelivered(key, info)
  local newer = call('XRANGE', key, '(' .. info['last-delivered-id'], '+', 'COUNT', 1)
  if #newer == 0 then return 0 end
  local held = call('XLEN', key)
  local lag = info['lag']
  if not lag or lag > held then return held end
  return lag
end
"""
)

# ARGV: group, consumer, claim timeout (ms). What this consumer may take from the
# partition: {'own', n} entries it holds uncommitted; {'claim', n} held by others, some
# idle past the timeout; {'busy', 0} held by a live consumer; {'new', n} undelivered.
SURVEY = (
    _HELPERS
    + """
local key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local summary = call('XPENDING', key, group)
if summary[1] > 0 then
  for _, holder in ipairs(summary[4]) do
    if holder[1] == consumer then return {'own', tonumber(holder[2])} end
  end
  if #call('XPENDING', key, group, 'IDLE', ARGV[3], '-', '+', 1) > 0 then
    return {'claim', summary[1]}
  end
  return {'busy', 0}
end
return {'new', undelivered(key, group_info(key, group))}
"""
)

# ARGV: group, consumer, count, claim timeout (ms). Takes at most count entries, oldest
# first: this consumer's own uncommitted ones (a retry), else those another consumer left
# idle past the timeout, else new ones, but never new ones while another consumer holds
# some: a group applies a partition in order. Entries trimmed away while held are acked.
TAKE = (
    _CALL
    + """
local key, group, consumer, count = KEYS[1], ARGV[1], ARGV[2], ARGV[3]

local function read_group(after)
  local reply = call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, after)
  if not reply then return {} end
  return reply[1][2]
end

local live, gone = {}, {}
for _, entry in ipairs(read_group('0')) do
  if entry[2] then live[#live + 1] = entry else gone[#gone + 1] = entry[1] end
end
if #gone > 0 then call('XACK', key, group, unpack(gone)) end
if #live > 0 then return live end
if call('XPENDING', key, group)[1] > 0 then
  return call('XAUTOCLAIM', key, group, consumer, ARGV[4], '0-0', 'COUNT', count)[2]
end
return read_group('>')
"""
)

# ARGV: group. Entries the group has not committed: pending plus undelivered; every
# entry when the group does not exist yet (it will start from the oldest kept).
LAG = (
    _HELPERS
    + """
local key, group = KEYS[1], ARGV[1]
if call('EXISTS', key) == 0 then return 0 end
local info = group_info(key, group)
if not info then return call('XLEN', key) end
return info['pending'] + undelivered(key, info)
"""
)

# ARGV: group, consumer, idle (ms). A consumer stopping: what it holds stays pending but
# looks idle for `idle` ms, so the next consumer to read claims it at once; a consumer that
# holds nothing is deleted. A consumer holds at most a batch, which unpack() takes whole.
RELEASE = (
    _CALL
    + """
local key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local total = call('XPENDING', key, group)[1]
local ids = {}
if total > 0 then
  for _, pending in ipairs(call('XPENDING', key, group, '-', '+', total, consumer)) do
    ids[#ids + 1] = pending[1]
  end
end
if #ids == 0 then
  call('XGROUP', 'DELCONSUMER', key, group, consumer)
  return 0
end
local args = {'XCLAIM', key, group, consumer, 0}
for _, id in ipairs(ids) do args[#args + 1] = id end
for _, word in ipairs({'IDLE', ARGV[3], 'JUSTID'}) do args[#args + 1] = word end
call(unpack(args))
return #ids
"""
)
