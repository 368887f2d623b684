"""Redis for tests, and the cache roles opened on every backend.

`redis_url` is STARLING_TEST_REDIS_URL when set, else a private redis-server started for
the session; `redis_cluster_url` is a node of a private three-master Redis Cluster. Without
a redis-server the Redis tests skip, except in CI where they fail. `redis_server` is a
test's own private server, to kill, pause and restart.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NoReturn

import pytest

from starling.cache.backends import CacheBackends, connect, open_cache
from starling.localredis import PrivateRedis, RedisUnavailable, private_redis, private_redis_cluster

CacheFactory = Callable[..., CacheBackends]
URL_FIXTURES = {"redis": "redis_url", "cluster": "redis_cluster_url"}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("STARLING_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    yield from _private(private_redis, tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _private(private_redis_cluster, tmp_path_factory.mktemp("redis-cluster"))


def _private(start: Callable[[Path], AbstractContextManager[str]], dir: Path) -> Iterator[str]:
    try:
        with start(dir) as url:
            yield url
    except RedisUnavailable as exc:
        _no_redis(f"{exc}; set STARLING_TEST_REDIS_URL or install redis-server")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private redis-server of this test's own (nothing persisted)."""
    try:
        server = PrivateRedis(tmp_path / "redis")
        server.start()
    except RedisUnavailable as exc:
        _no_redis(f"{exc}; install redis-server")
    try:
        yield server
    finally:
        server.stop()


def _no_redis(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"no Redis for tests: {reason}")
    pytest.skip(f"no Redis for tests: {reason}")


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def cache_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process backend, else the test Redis or a node of the test cluster."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue(URL_FIXTURES[request.param])
    return url


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.redis) for name in URL_FIXTURES])
def server_url(request: pytest.FixtureRequest) -> str:
    """The test Redis, then a node of the test cluster."""
    url: str = request.getfixturevalue(URL_FIXTURES[request.param])
    return url


@pytest.fixture
def make_cache(cache_url: str | None) -> Iterator[CacheFactory]:
    """Opens cache roles on the backend under test, each under a fresh key prefix."""
    opened: list[tuple[CacheBackends, str]] = []

    def make(capacity: int = 800) -> CacheBackends:
        prefix = f"test:{uuid.uuid4().hex}:"
        cache = open_cache(cache_url, timeline_capacity=capacity, key_prefix=prefix)
        opened.append((cache, prefix))
        return cache

    yield make
    for cache, prefix in opened:
        cache.close()
        if cache_url is not None:
            delete_prefixed(cache_url, prefix)


@pytest.fixture
def cache_backends(make_cache: CacheFactory) -> CacheBackends:
    return make_cache()


def delete_prefixed(url: str, prefix: str) -> None:
    """Leaves a shared test Redis as it was found. On a cluster, redis-py scans every
    master and deletes slot by slot."""
    servers = connect(url)
    try:
        keys = list(servers.client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            servers.client.delete(*keys)
    finally:
        servers.close()
