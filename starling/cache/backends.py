"""Opens the cache roles together: in-process, on one Redis, or on a Redis Cluster.

See docs/subsystems/cache.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from starling.cache import memory
from starling.cache import redis as redis_backend
from starling.cache.base import (
    Budgets,
    CelebrityIndex,
    Counters,
    IdempotencyKeys,
    MembershipSets,
    RankedLists,
    ServedEntries,
    TimelineCache,
)
from starling.cache.budgets import MemoryBudgets, RedisBudgets
from starling.cache.cluster import ClusterServers
from starling.cache.memory_timelines import MemoryTimelineCache
from starling.cache.servers import OneServer, Servers

CELEBRITY_POSTS_KEPT = 200  # newest posts kept per pulled author
COUNTER_SHARDS = 16


@dataclass
class CacheBackends:
    timelines: TimelineCache
    celebrities: CelebrityIndex
    counters: Counters
    idempotency: IdempotencyKeys
    sets: MembershipSets
    served: ServedEntries
    seen: ServedEntries
    ranked: RankedLists
    budgets: Budgets

    def close(self) -> None:
        roles = (
            self.timelines,
            self.celebrities,
            self.counters,
            self.idempotency,
            self.sets,
            self.served,
            self.seen,
            self.ranked,
            self.budgets,
        )
        for role in roles:
            role.close()


def open_cache(
    redis_url: str | None, *, timeline_capacity: int = 800, key_prefix: str = ""
) -> CacheBackends:
    """In-process roles when redis_url is None, else Redis roles under key_prefix, on the
    server or the cluster (any of its nodes) at redis_url."""
    if redis_url is None:
        return CacheBackends(
            timelines=MemoryTimelineCache(timeline_capacity),
            celebrities=memory.MemoryCelebrityIndex(CELEBRITY_POSTS_KEPT),
            counters=memory.MemoryCounters(COUNTER_SHARDS),
            idempotency=memory.MemoryIdempotencyKeys(),
            sets=memory.MemoryMembershipSets(),
            served=memory.MemoryServedEntries(),
            seen=memory.MemoryServedEntries(),
            ranked=memory.MemoryRankedLists(),
            budgets=MemoryBudgets(),
        )
    redis_backend.check_prefix(key_prefix)  # before connecting: nothing left open on error
    servers = connect(redis_url)
    return CacheBackends(
        timelines=redis_backend.RedisTimelineCache(servers, key_prefix, timeline_capacity),
        celebrities=redis_backend.RedisCelebrityIndex(servers, key_prefix, CELEBRITY_POSTS_KEPT),
        counters=redis_backend.RedisCounters(servers, key_prefix, COUNTER_SHARDS),
        idempotency=redis_backend.RedisIdempotencyKeys(servers, key_prefix),
        sets=redis_backend.RedisMembershipSets(servers, key_prefix),
        served=redis_backend.RedisServedEntries(servers, key_prefix),
        seen=redis_backend.RedisServedEntries(servers, key_prefix, "seen"),
        ranked=redis_backend.RedisRankedLists(servers, key_prefix),
        budgets=RedisBudgets(servers, key_prefix),
    )


def connect(url: str, **options: Any) -> Servers:
    """The server at url, or the whole cluster when url names a node of a Redis Cluster;
    options go to the redis-py client."""
    probe = redis.Redis.from_url(url)
    try:
        clustered = probe.info("cluster").get("cluster_enabled") == 1
    finally:
        probe.close()
    if clustered:
        return ClusterServers(RedisCluster.from_url(url, decode_responses=True, **options))
    return OneServer(redis.Redis.from_url(url, decode_responses=True, **options))
