"""Redis backends of the cache roles (redis-py), sharing one client, on one server or a
Redis Cluster (servers.py, cluster.py).

Key layout (after the key prefix; <x> is a value, braces are literal hash tags):
  timeline:{<user>}           sorted set: member = entry id (decimal), score = entry id
  timeline:{<user>}:reposts   sorted set: member = source id, score = id of its repost
  celebrity:<author>:tweets   sorted set of post ids, newest `kept` only
  celebrities                 set of authors whose posts are pulled
  counter:<name>:<key>        hash: shard -> partial count
  idempotency:<key>           string: "" while pending, then the response
  set:<name>                  set
  served:<viewer>             hash: entry id -> explanation, expiring
  seen:<viewer>               hash: entry id -> "", expiring (served entries' role)
  ranked:<viewer>             hash: "list" -> the ranked list, "at" -> when ranked, expiring

A hash tag keeps a timeline and its `:reposts` set in one cluster slot, since the scripts
touch both; every other operation touches one key, or one key per command of a pipeline.

Ids exceed 2^53, so a float score can be shared by ids that differ in the low bits: ranges
are read with inclusive float bounds plus slack and then filtered exactly on the integer
member. An existing timeline always holds the member "" at score +inf, so that an empty one
still exists; reads use bounds below +inf and never see it. See docs/subsystems/cache.md.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np

from starling.cache.base import IdArray, UserIds
from starling.cache.servers import Arg, Servers

RANGE_SLACK = 64  # extra members read per range, for ids sharing the float score of max_id

# Helpers shared by the scripts. A timeline key holds the sentinel, so ZCARD is 0 only for
# a missing timeline and a full one has capacity + 1 members; the sentinel (+inf) is never
# among the lowest ranks that a trim removes. `call` is a local, saving a global lookup
# per command.
_LUA_HELPERS = """
local call = redis.call

local function trim(key, capacity)
  local excess = call('ZCARD', key) - capacity - 1
  if excess > 0 then call('ZREMRANGEBYRANK', key, 0, excess - 1) end
end

-- Forget tracked reposts that have left the timeline, so the tracking set stays bounded.
local function trim_reposts(key)
  local oldest = call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  call('ZREMRANGEBYSCORE', key .. ':reposts', '-inf', '(' .. oldest)
end
"""

# ARGV: entry id, source id, capacity, timeline key start, user ids (space-separated).
# Returns how many were written. Run by Servers.eval_by_tag: once per server, with the
# users whose timelines it holds; the script builds their keys, which a cluster node
# accepts across slots thanks to the flag. One ZCARD both tests existence and sizes the
# trim, which runs only when over capacity.
_PUSH_LUA = (
    "#!lua flags=allow-cross-slot-keys\n"
    + _LUA_HELPERS
    + """
local entry, source, capacity = ARGV[1], ARGV[2], tonumber(ARGV[3])
local is_repost = entry ~= source

-- The source, or a tracked repost of it still in the timeline (something sits at its
-- score; an id sharing that float would also count, which is rare and only skips a repost).
local function shown(key)
  if call('ZSCORE', key, source) then return true end
  local at = call('ZSCORE', key .. ':reposts', source)
  return at and call('ZCOUNT', key, at, at) > 0
end

local start = ARGV[4]
local written = 0
for user in string.gmatch(ARGV[5], '%d+') do
  local key = start .. user .. '}'
  local size = call('ZCARD', key)
  if size > 0 and not (is_repost and shown(key)) then
    size = size + call('ZADD', key, entry, entry)
    if size > capacity + 1 then call('ZREMRANGEBYRANK', key, 0, size - capacity - 2) end
    if is_repost then
      call('ZADD', key .. ':reposts', entry, source)
      trim_reposts(key)
    end
    written = written + 1
  end
end
return written
"""
)

# KEYS: timeline, its reposts set. ARGV: "replace" or "merge", capacity, then entry id and
# source id pairs. A merge into a missing timeline does nothing. Members are added with one
# ZADD per few hundred, not one per entry.
_WRITE_LUA = (
    _LUA_HELPERS
    + """
local function add_all(key, args)
  for i = 1, #args, 1000 do
    call('ZADD', key, unpack(args, i, math.min(i + 999, #args)))
  end
end

local timeline, reposts = KEYS[1], KEYS[2]
if ARGV[1] == 'replace' then
  call('DEL', timeline, reposts)
  call('ZADD', timeline, '+inf', '')
elseif call('EXISTS', timeline) == 0 then
  return 0
end
local entries, tracked = {}, {}
for i = 3, #ARGV, 2 do
  local entry, source = ARGV[i], ARGV[i + 1]
  entries[#entries + 1] = entry
  entries[#entries + 1] = entry
  if entry ~= source then
    tracked[#tracked + 1] = entry
    tracked[#tracked + 1] = source
  end
end
add_all(timeline, entries)
add_all(reposts, tracked)
trim(timeline, tonumber(ARGV[2]))
trim_reposts(timeline)
return 1
"""
)


# KEYS: the counter's hash. ARGV: value. Sets shard 0 unless the counter exists; returns
# 1 when it did.
_SEED_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 0, ARGV[1])
return 1
"""


def _ids(values: UserIds) -> list[int]:
    ids: list[int] = np.asarray(values, dtype=np.int64).tolist()
    return ids


def _float_bound(value: int | None, unbounded: str) -> str:
    """An inclusive score bound: the float of an id may round to either side of it."""
    return unbounded if value is None else repr(float(value))


def _between(members: Sequence[str], min_id: int | None, max_id: int | None) -> list[int]:
    """The integer ids strictly inside (min_id, max_id)."""
    low = -1 if min_id is None else min_id
    ids = (int(member) for member in members)
    return [i for i in ids if i > low and (max_id is None or i < max_id)]


def check_prefix(prefix: str) -> None:
    """The first {...} of a key is its cluster hash tag: ours come after the prefix."""
    if "{" in prefix or "}" in prefix:
        raise ValueError(f"a Redis key prefix cannot hold braces: {prefix!r}")


class _RedisRole:
    def __init__(self, servers: Servers, prefix: str) -> None:
        check_prefix(prefix)
        self._servers = servers
        self._client = servers.client
        self._prefix = prefix

    def close(self) -> None:
        """Closes the shared client (idempotent)."""
        self._servers.close()


class RedisTimelineCache(_RedisRole):
    def __init__(self, servers: Servers, prefix: str, capacity: int) -> None:
        super().__init__(servers, prefix)
        self.capacity = capacity
        self._key_start = f"{prefix}timeline:{{"
        self._write = self._client.register_script(_WRITE_LUA)

    def push(self, user_ids: UserIds, entry_id: int, source_id: int) -> int:
        users = _ids(user_ids)
        if not users:
            return 0
        args: list[Arg] = [int(entry_id), int(source_id), self.capacity, self._key_start]
        return sum(int(n) for n in self._servers.eval_by_tag(_PUSH_LUA, users, args))

    def range(
        self, user_id: int, *, max_id: int | None = None, min_id: int | None = None, limit: int
    ) -> list[int] | None:
        key = self._key(user_id)
        high, low = _float_bound(max_id, "(+inf"), _float_bound(min_id, "-inf")
        fetch = limit + RANGE_SLACK
        while True:
            pipe = self._client.pipeline(transaction=False)
            pipe.exists(key)
            pipe.zrevrangebyscore(key, high, low, start=0, num=fetch)
            exists, members = pipe.execute()
            if not exists:
                return None
            ids = _between(members, min_id, max_id)
            # Too many members sat on max_id's score and were filtered out: read deeper.
            if len(ids) >= limit or len(members) < fetch:
                return sorted(ids, reverse=True)[:limit]
            fetch *= 4

    def replace(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        self._write_pairs(user_id, "replace", entries)

    def merge(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        self._write_pairs(user_id, "merge", entries)

    def remove(self, user_id: int, entry_ids: Sequence[int]) -> None:
        # A tracked repost removed here no longer counts: push checks it is still present.
        if len(entry_ids):
            self._client.zrem(self._key(user_id), *_ids(entry_ids))

    def delete(self, user_ids: UserIds) -> None:
        keys = [self._key(user) for user in _ids(user_ids)]
        if keys:
            self._client.delete(*keys, *(f"{key}:reposts" for key in keys))

    def exists(self, user_id: int) -> bool:
        return bool(self._client.exists(self._key(user_id)))

    def memory_bytes(self) -> int:
        """The servers' whole used memory: meaningful on servers of their own (benchmarks)."""
        return sum(int(info["used_memory"]) for info in self._servers.info("memory"))

    def _key(self, user_id: int) -> str:
        return f"{self._key_start}{user_id}}}"

    def _write_pairs(self, user_id: int, mode: str, entries: Sequence[tuple[int, int]]) -> None:
        key = self._key(user_id)
        flat = _ids(np.asarray(entries, dtype=np.int64).reshape(-1))
        args: list[str | int] = [mode, self.capacity, *flat]
        self._write(keys=[key, f"{key}:reposts"], args=args)


class RedisCelebrityIndex(_RedisRole):
    def __init__(self, servers: Servers, prefix: str, kept: int) -> None:
        super().__init__(servers, prefix)
        self.kept = kept
        self._celebrities = f"{prefix}celebrities"

    def add(self, author_id: int, post_id: int) -> None:
        # Not a transaction: the two keys may sit on two cluster nodes. A reader between
        # the commands sees one post more than kept, or the post before its author's mark.
        key, post_id = self._key(author_id), int(post_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(key, {str(post_id): post_id})
        pipe.zremrangebyrank(key, 0, -self.kept - 1)
        pipe.sadd(self._celebrities, int(author_id))
        pipe.execute()

    def remove(self, author_id: int, post_id: int) -> None:
        self._client.zrem(self._key(author_id), int(post_id))

    def celebrities_among(self, author_ids: UserIds) -> IdArray:
        ids = np.asarray(author_ids, dtype=np.int64)
        if ids.size == 0:
            return ids
        flags = self._client.smismember(self._celebrities, ids.tolist())
        known: IdArray = ids[np.array(flags, dtype=bool)]
        return known

    def latest(self, author_ids: UserIds, per_author: int, max_id: int | None = None) -> IdArray:
        """Newest first across all the authors. One pipeline: on a cluster, one round
        trip per node, all nodes at once."""
        high = _float_bound(max_id, "+inf")
        pipe = self._client.pipeline(transaction=False)
        for author in _ids(author_ids):
            pipe.zrevrangebyscore(self._key(author), high, "-inf", 0, per_author + RANGE_SLACK)
        found: list[int] = []
        for members in pipe.execute():
            found += sorted(_between(members, None, max_id), reverse=True)[:per_author]
        return np.sort(np.array(found, np.int64))[::-1]

    def _key(self, author_id: int) -> str:
        return f"{self._prefix}celebrity:{author_id}:tweets"


class RedisCounters(_RedisRole):
    """One hash per counter, a field per shard: HINCRBY on a random field; a read sums the
    fields of every counter asked for in one pipeline.

    All shards of a counter share one key, so that seeding stays one atomic script on a
    cluster too (one slot)."""

    def __init__(self, servers: Servers, prefix: str, shards: int) -> None:
        super().__init__(servers, prefix)
        self.shards = shards
        self._seed = self._client.register_script(_SEED_LUA)

    def incr(self, name: str, key: int, delta: int = 1) -> None:
        self._client.hincrby(self._key(name, key), random.randrange(self.shards), delta)

    def get(self, name: str, keys: Sequence[int]) -> dict[int, int]:
        wanted = _ids(keys)
        if not wanted:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for key in wanted:
            pipe.hvals(self._key(name, key))
        return {
            key: sum(map(int, shards))
            for key, shards in zip(wanted, pipe.execute(), strict=True)
            if shards
        }

    def seed(self, name: str, key: int, value: int) -> bool:
        return bool(self._seed(keys=[self._key(name, key)], args=[int(value)]))

    def _key(self, name: str, key: int) -> str:
        return f"{self._prefix}counter:{name}:{int(key)}"


class RedisIdempotencyKeys(_RedisRole):
    def reserve(self, key: str, ttl_s: int) -> str | None:
        # SET NX GET: claims the key, or leaves it and returns what it holds (Redis >= 7).
        held = self._client.set(self._key(key), "", nx=True, ex=ttl_s, get=True)
        return None if held is None else str(held)

    def complete(self, key: str, response: str, ttl_s: int) -> None:
        self._client.set(self._key(key), response, ex=ttl_s)

    def release(self, key: str) -> None:
        self._client.delete(self._key(key))

    def _key(self, key: str) -> str:
        return f"{self._prefix}idempotency:{key}"


class RedisMembershipSets(_RedisRole):
    def add(self, name: str, member: int) -> bool:
        return bool(self._client.sadd(self._key(name), int(member)))

    def discard(self, name: str, member: int) -> None:
        self._client.srem(self._key(name), int(member))

    def _key(self, name: str) -> str:
        return f"{self._prefix}set:{name}"


class RedisServedEntries(_RedisRole):
    """One hash per viewer; a serve writes its entries and restarts the expiry in one
    pipeline (the hash is one key, so one slot on a cluster). `name` is the key's first
    part: served, or seen."""

    def __init__(self, servers: Servers, prefix: str, name: str = "served") -> None:
        super().__init__(servers, prefix)
        self._name = name

    def record(self, viewer_id: int, explanations: Mapping[int, str], ttl_s: int) -> None:
        if not explanations:
            return
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(self._key(viewer_id), mapping={int(k): v for k, v in explanations.items()})
        pipe.expire(self._key(viewer_id), ttl_s)
        pipe.execute()

    def served_among(self, viewer_id: int, entry_ids: UserIds) -> IdArray:
        ids = _ids(entry_ids)
        if not ids:
            return np.empty(0, dtype=np.int64)
        # HMGET returns the explanations too; one command is cheaper than one per entry.
        found = self._client.hmget(self._key(viewer_id), ids)
        return np.array([i for i, v in zip(ids, found, strict=True) if v is not None], np.int64)

    def explanation(self, viewer_id: int, entry_id: int) -> str | None:
        found = self._client.hget(self._key(viewer_id), str(int(entry_id)))
        return None if found is None else str(found)

    def _key(self, viewer_id: int) -> str:
        return f"{self._prefix}{self._name}:{int(viewer_id)}"


class RedisRankedLists(_RedisRole):
    """One hash per viewer, written with its expiry in one pipeline (one key, one slot)."""

    def put(self, viewer_id: int, ranked: str, ranked_at: int, ttl_s: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(self._key(viewer_id), mapping={"list": ranked, "at": int(ranked_at)})
        pipe.expire(self._key(viewer_id), ttl_s)
        pipe.execute()

    def get(self, viewer_id: int) -> tuple[str, int] | None:
        ranked, at = self._client.hmget(self._key(viewer_id), ["list", "at"])
        return None if ranked is None or at is None else (str(ranked), int(at))

    def drop(self, viewer_ids: UserIds) -> None:
        keys = [self._key(viewer) for viewer in _ids(viewer_ids)]
        if keys:
            self._client.delete(*keys)

    def _key(self, viewer_id: int) -> str:
        return f"{self._prefix}ranked:{int(viewer_id)}"
