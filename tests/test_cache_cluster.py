"""What is particular to a Redis Cluster: detection from any node, keys spread over the
masters, and a push routed afresh once the slot map changed under the client."""

from __future__ import annotations

import uuid

import pytest
import redis
from redis.cluster import ClusterNode

from starling.cache.backends import connect, open_cache
from starling.cache.cluster import ClusterServers, tag_slot
from starling.cache.redis import RedisTimelineCache
from starling.cache.servers import OneServer
from tests.fixtures_redis import delete_prefixed
from tests.test_cache_conformance import post

pytestmark = pytest.mark.redis


def cluster(url: str) -> ClusterServers:
    servers = connect(url)
    assert isinstance(servers, ClusterServers)
    return servers


def masters(servers: ClusterServers) -> list[ClusterNode]:
    nodes: list[ClusterNode] = servers.client.get_primaries()  # type: ignore[no-untyped-call]
    return nodes


def test_connect_detects_a_cluster_from_any_node(redis_cluster_url: str, redis_url: str) -> None:
    any_node = cluster(redis_cluster_url)
    nodes = [f"redis://{node.name}" for node in masters(any_node)]
    any_node.close()
    for url in nodes:
        servers = connect(url)
        assert isinstance(servers, ClusterServers)
        servers.close()
    one = connect(redis_url)
    assert isinstance(one, OneServer)
    one.close()


def test_timelines_spread_over_masters_and_cleanup_reaches_them_all(
    redis_cluster_url: str,
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    cache = open_cache(redis_cluster_url, key_prefix=prefix)
    for user in range(1, 31):
        cache.timelines.replace(user, [(post(1), post(2))])  # a repost: a :reposts key too
    cache.close()
    servers = cluster(redis_cluster_url)

    def keys_per_master() -> list[int]:
        return [
            len(servers.client.keys(f"{prefix}*", target_nodes=node)) for node in masters(servers)
        ]

    before = keys_per_master()
    delete_prefixed(redis_cluster_url, prefix)
    after = keys_per_master()
    servers.close()

    assert sum(before) == 60 and min(before) > 0
    assert after == [0, 0, 0]


def test_push_after_a_reshard_fails_once_then_routes_afresh(redis_cluster_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    servers = cluster(redis_cluster_url)
    timelines = RedisTimelineCache(servers, prefix, capacity=800)
    timelines.replace(1, [])
    # The client believes another master serves user 1's slot, as after a reshard.
    slots = servers.client.nodes_manager.slots_cache
    owner = slots[tag_slot(1)][0]
    slots[tag_slot(1)] = [next(n for n in masters(servers) if n != owner)]

    with pytest.raises(redis.ResponseError, match="non local key"):
        timelines.push([1], post(1), post(1))
    assert timelines.push([1], post(2), post(2)) == 1

    assert timelines.range(1, limit=5) == [post(2)]
    servers.close()
    delete_prefixed(redis_cluster_url, prefix)


def test_a_prefix_cannot_pick_the_hash_slot(redis_cluster_url: str) -> None:
    with pytest.raises(ValueError, match="braces"):
        open_cache(redis_cluster_url, key_prefix="{tenant}:")
