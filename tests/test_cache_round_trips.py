"""Round trips of the Redis roles' multi-key operations, counted per server: one Redis
and each master of a Redis Cluster gets one write per call, however many keys it holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from starling.cache.backends import COUNTER_SHARDS, connect
from starling.cache.redis import RedisCelebrityIndex, RedisCounters, RedisTimelineCache
from starling.cache.servers import Servers
from tests.counting import CountingConnection
from tests.fixtures_redis import delete_prefixed
from tests.test_cache_conformance import post


@pytest.fixture
def servers(server_url: str) -> Iterator[Servers]:
    """The server or cluster under test, its writes counted per port."""
    servers = connect(server_url, connection_class=CountingConnection)
    yield servers
    servers.close()


@pytest.fixture
def prefix(server_url: str) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    delete_prefixed(server_url, prefix)


def one_each(servers: Servers) -> dict[int, int]:
    """One write to the server, or to every master of the cluster (by port)."""
    return {int(info["tcp_port"]): 1 for info in servers.info("server")}


def test_push_to_5000_users_is_one_round_trip_per_server(servers: Servers, prefix: str) -> None:
    timelines = RedisTimelineCache(servers, prefix, capacity=800)
    users = list(range(1, 5001))
    for user in users[::100]:
        timelines.replace(user, [])
    timelines.push(users, post(1), post(1))  # opens the connections
    expected = one_each(servers)

    CountingConnection.sends.clear()
    written = timelines.push(users, post(2), post(2))

    assert written == 50
    assert CountingConnection.sends == expected


def test_celebrity_latest_is_one_round_trip_per_server(servers: Servers, prefix: str) -> None:
    celebrities = RedisCelebrityIndex(servers, prefix, kept=200)
    authors = list(range(1, 61))
    for author in authors:
        celebrities.add(author, post(author))
    celebrities.latest(authors, per_author=5)
    expected = one_each(servers)

    CountingConnection.sends.clear()
    latest = celebrities.latest(authors, per_author=5)

    assert latest.tolist() == [post(author) for author in reversed(authors)]
    assert CountingConnection.sends == expected


def test_counters_get_is_one_round_trip_per_server(servers: Servers, prefix: str) -> None:
    counters = RedisCounters(servers, prefix, COUNTER_SHARDS)
    keys = list(range(1, 41))
    for key in keys:
        counters.incr("likes", key, key)
    counters.get("likes", keys)
    expected = one_each(servers)

    CountingConnection.sends.clear()
    totals = counters.get("likes", keys)

    assert totals == {key: key for key in keys}
    assert CountingConnection.sends == expected
