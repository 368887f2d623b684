"""Opens the five cache roles together, in-process or on one Redis.

See docs/subsystems/cache.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from starling.cache import memory
from starling.cache import redis as redis_backend
from starling.cache.base import (
    CelebrityIndex,
    Counters,
    IdempotencyKeys,
    MembershipSets,
    TimelineCache,
)
from starling.cache.memory_timelines import MemoryTimelineCache

CELEBRITY_POSTS_KEPT = 200  # newest posts kept per pulled author
COUNTER_SHARDS = 16


@dataclass
class CacheBackends:
    timelines: TimelineCache
    celebrities: CelebrityIndex
    counters: Counters
    idempotency: IdempotencyKeys
    sets: MembershipSets

    def close(self) -> None:
        roles = (self.timelines, self.celebrities, self.counters, self.idempotency, self.sets)
        for role in roles:
            role.close()


def open_cache(
    redis_url: str | None, *, timeline_capacity: int = 800, key_prefix: str = ""
) -> CacheBackends:
    """In-process roles when redis_url is None, else Redis roles under key_prefix."""
    if redis_url is None:
        return CacheBackends(
            timelines=MemoryTimelineCache(timeline_capacity),
            celebrities=memory.MemoryCelebrityIndex(CELEBRITY_POSTS_KEPT),
            counters=memory.MemoryCounters(COUNTER_SHARDS),
            idempotency=memory.MemoryIdempotencyKeys(),
            sets=memory.MemoryMembershipSets(),
        )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return CacheBackends(
        timelines=redis_backend.RedisTimelineCache(client, key_prefix, timeline_capacity),
        celebrities=redis_backend.RedisCelebrityIndex(client, key_prefix, CELEBRITY_POSTS_KEPT),
        counters=redis_backend.RedisCounters(client, key_prefix, COUNTER_SHARDS),
        idempotency=redis_backend.RedisIdempotencyKeys(client, key_prefix),
        sets=redis_backend.RedisMembershipSets(client, key_prefix),
    )
