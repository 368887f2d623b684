"""Redis lost while serving: a private redis-server is killed, paused or flushed under a
running instance. Reads answer from the store, committed writes answer 2xx, fan-out
keeps its events until Redis is back, and timelines converge on the store's. With the
event log on Redis Streams, the relay and fan-out threads wait for Redis and resume."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from starling import metrics
from starling.cache.backends import open_cache
from starling.cache.base import TimelineCache
from starling.cache.errors import CacheUnavailable
from starling.cache.guarded import Breaker, guard_cache
from starling.config import Settings
from starling.eventlog.base import LogUnavailable
from starling.eventlog.open import open_log
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.events import AccountCreated
from starling.localredis import PrivateRedis, private_redis_server
from starling.runtime import Runtime, open_runtime
from starling.store.open import open_store
from starling.workers import base as worker_base
from tests.counting import Counting
from tests.fixtures_api import Api, ApiFactory, User
from tests.fixtures_runtime import RuntimeFactory, home_sources_from_store

pytestmark = pytest.mark.redis

STALL_TIMEOUT = "socket_timeout=0.2"  # a paused server costs 0.2 s per timed-out call


def shown_sources(api: Api, user: User) -> set[int]:
    """The source posts of the user's home timeline, as the API answers it."""
    response = api.client.get("/api/v1/timelines/home?limit=40", headers=user.auth)
    assert response.status_code == 200, response.text
    return {int((s["reblog"] or s)["id"]) for s in response.json()}


def status(api: Api, user: User, status_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/statuses/{status_id}", headers=user.auth)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def act(api: Api, user: User, path: str, **headers: str) -> dict[str, Any]:
    response = api.client.post(path, headers={**user.auth, **headers})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def degraded(operation: str) -> float:
    labels = {"operation": operation}
    return metrics.REGISTRY.get_sample_value("starling_cache_degraded_total", labels) or 0.0


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def cache_answers(runtime: Runtime) -> bool:
    try:
        runtime.cache.timelines.exists(0)
    except CacheUnavailable:
        return False
    return True


def test_a_killed_redis_degrades_to_the_store_then_converges(
    api_factory: ApiFactory, redis_server: PrivateRedis
) -> None:
    api = api_factory(redis_url=redis_server.url, celebrity_threshold=3)
    runtime = api.runtime
    alice, bob, carol, dave, erin = (
        api.register(n) for n in ("alice", "bob", "carol", "dave", "erin")
    )
    for fan in (bob, dave, erin):
        api.follow(fan, carol)  # carol has three followers: her posts are pulled
    api.follow(bob, alice)
    before = api.post(alice, "before the outage")
    api.post(carol, "pulled before the outage")
    assert shown_sources(api, bob) == home_sources_from_store(runtime, int(bob.id))

    redis_server.kill()
    during = api.post(alice, "during the outage")
    pulled = api.post(carol, "pulled during the outage")
    liked = act(api, bob, f"/api/v1/statuses/{before['id']}/favourite")
    assert liked["favourited"] and liked["favourites_count"] == 1
    reposts = {act(api, dave, f"/api/v1/statuses/{during['id']}/reblog")["id"] for _ in range(2)}
    assert len(reposts) == 1  # the store's unique index decides without the cache set
    api.follow(bob, dave)
    shown = shown_sources(api, bob)
    assert shown == home_sources_from_store(runtime, int(bob.id))
    assert {int(during["id"]), int(pulled["id"])} <= shown
    seen = status(api, erin, before["id"])
    assert seen["favourites_count"] == 1  # the post row's count, kept by the counts worker
    assert status(api, erin, during["id"])["reblogs_count"] == 1
    assert runtime.log.lag("fanout") > 0  # fan-out kept its events: nothing committed

    redis_server.restart()  # empty: nothing was persisted
    runtime.drain()
    assert all(runtime.log.lag(name) == 0 for name in runtime.workers)
    latest = runtime.cache.celebrities.latest([int(carol.id)], 5).tolist()
    assert int(pulled["id"]) in latest  # fan-out resumed from the log
    assert shown_sources(api, bob) == home_sources_from_store(runtime, int(bob.id))
    after = api.post(alice, "after the outage")
    assert int(after["id"]) in (runtime.cache.timelines.range(int(bob.id), limit=5) or [])
    act(api, erin, f"/api/v1/statuses/{before['id']}/favourite")
    assert status(api, erin, before["id"])["favourites_count"] == 2


def test_a_stalled_redis_holds_fanout_until_it_answers_again(
    api_factory: ApiFactory, redis_server: PrivateRedis
) -> None:
    api = api_factory(redis_url=f"{redis_server.url}?{STALL_TIMEOUT}")
    runtime = api.runtime
    alice, bob = api.register("alice"), api.register("bob")
    api.follow(bob, alice)
    shown_sources(api, bob)  # bob's timeline is cached, and stays so through the stall

    redis_server.pause()
    during = api.post(alice, "during the stall")
    assert int(during["id"]) in shown_sources(api, bob)
    assert runtime.log.lag("fanout") > 0

    redis_server.resume()
    wait_until(lambda: cache_answers(runtime))  # the guard probes again after its hold
    runtime.drain()
    assert runtime.log.lag("fanout") == 0
    # The kept timeline got the post from the log, not from a rebuild.
    assert runtime.home.rebuilds == 1
    assert int(during["id"]) in (runtime.cache.timelines.range(int(bob.id), limit=5) or [])
    assert shown_sources(api, bob) == home_sources_from_store(runtime, int(bob.id))


def test_a_flushed_redis_is_rebuilt_from_the_store(
    api_factory: ApiFactory, redis_server: PrivateRedis
) -> None:
    api = api_factory(redis_url=redis_server.url)
    runtime = api.runtime
    alice, bob, carol = (api.register(n) for n in ("alice", "bob", "carol"))
    api.follow(bob, alice)
    shown_sources(api, bob)
    post = api.post(alice, "liked and reposted")
    act(api, bob, f"/api/v1/statuses/{post['id']}/favourite")
    repost = act(api, bob, f"/api/v1/statuses/{post['id']}/reblog")
    keyed = act(api, bob, "/api/v1/statuses?status=once", **{"Idempotency-Key": "k"})

    redis.Redis.from_url(redis_server.url).flushall()
    assert shown_sources(api, bob) == home_sources_from_store(runtime, int(bob.id))
    assert status(api, carol, post["id"])["favourites_count"] == 1
    act(api, carol, f"/api/v1/statuses/{post['id']}/favourite")
    assert status(api, carol, post["id"])["favourites_count"] == 2
    assert act(api, bob, f"/api/v1/statuses/{post['id']}/reblog")["id"] == repost["id"]
    assert act(api, bob, "/api/v1/statuses?status=once", **{"Idempotency-Key": "k"}) == keyed
    assert len(runtime.store.account_posts(int(bob.id))) == 2  # the repost and the keyed post


def test_a_post_whose_cache_work_fails_after_the_commit_answers_200_and_replays(
    api_factory: ApiFactory, redis_server: PrivateRedis
) -> None:
    api = api_factory(redis_url=redis_server.url)
    alice = api.register("alice")
    # Redis dies right after the post's commit: its counters, idempotency record and
    # fan-out all fail; the post stands, and so must the answer.
    killed: list[bool] = []

    def kill_once() -> None:
        if not killed:
            killed.append(True)
            redis_server.kill()

    api.runtime.store.add_commit_listener(kill_once)
    completions = degraded("idempotency_complete")
    key = {"Idempotency-Key": "retried"}
    first = act(api, alice, "/api/v1/statuses?status=committed", **key)
    assert killed and degraded("idempotency_complete") == completions + 1
    assert act(api, alice, "/api/v1/statuses?status=committed", **key)["id"] == first["id"]
    redis_server.restart()
    assert act(api, alice, "/api/v1/statuses?status=committed", **key)["id"] == first["id"]
    assert [p.id for p in api.runtime.store.account_posts(int(alice.id))] == [int(first["id"])]


def test_the_fanout_thread_resumes_from_the_log_when_redis_returns(
    make_runtime: RuntimeFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_base, "OUTAGE_RETRY_DELAYS_S", (0.02,))
    with private_redis_server(tmp_path / "redis", persist=True) as server:
        runtime = make_runtime(mode="threads", redis_url=server.url)
        viewer = runtime.actions.register("viewer", None)
        author = runtime.actions.register("author", None)
        runtime.actions.follow(viewer.id, author.id)
        runtime.home.read(viewer.id)
        server.kill()
        post = runtime.actions.post(author.id, "while Redis is down")
        time.sleep(0.2)  # ten retries
        assert runtime.log.lag("fanout") > 0
        server.restart()  # with its data: the viewer's timeline is still there
        wait_until(lambda: runtime.log.lag("fanout") == 0)
        assert post.id in (runtime.cache.timelines.range(viewer.id, limit=5) or [])
        assert runtime.home.rebuilds == 1


def test_after_a_timeout_calls_fail_at_once_until_one_probes(redis_server: PrivateRedis) -> None:
    cache = open_cache(f"{redis_server.url}?{STALL_TIMEOUT}", key_prefix="guard:")
    timelines = Counting(cache.timelines)
    counted = dataclasses.replace(cache, timelines=cast(TimelineCache, timelines))
    guarded = guard_cache(counted, Breaker(hold_s=0.3))
    guarded.timelines.replace(1, [(5, 5)])
    redis_server.pause()
    for _ in range(5):
        with pytest.raises(CacheUnavailable):
            guarded.timelines.exists(1)
    assert timelines.calls["exists"] == 1  # one timeout, then held off
    redis_server.resume()
    time.sleep(0.3)
    assert guarded.timelines.range(1, limit=5) == [5]  # the probe
    assert guarded.timelines.exists(1)
    assert timelines.calls["exists"] == 2
    guarded.close()


def test_response_errors_are_bugs_not_outages(redis_server: PrivateRedis) -> None:
    guarded = guard_cache(open_cache(redis_server.url, key_prefix="bugs:"))
    client = redis.Redis.from_url(redis_server.url)
    for shard in range(16):
        client.set(f"bugs:counter:likes:{shard}", "not a hash")
    with pytest.raises(redis.ResponseError):
        guarded.counters.get("likes", [1])
    redis_server.kill()
    with pytest.raises(CacheUnavailable):
        guarded.counters.get("likes", [1])
    guarded.close()
    client.close()


def test_a_lost_redis_is_log_unavailable_to_the_streams_log(
    redis_server: PrivateRedis, tmp_path: Path
) -> None:
    runtime_store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    log = open_log(redis_server.url, runtime_store)
    assert isinstance(log, RedisStreamsLog)
    entry = (1, AccountCreated(1, "user1", "eu", False, 0))
    log.append([entry])
    read = log.read("g", "c", 10)
    calls: dict[str, Callable[[], object]] = {
        "append": lambda: log.append([entry]),
        "read": lambda: log.read("g", "c", 10),
        "commit": lambda: log.commit("g", "c", read),
        "lag": lambda: log.lag("g"),
        "wait": lambda: log.wait("g", "c", 0.01),
        "replay": lambda: log.replay(0, None, 10),
        "holders": lambda: log.holders("g"),
        "trim": lambda: log.trim(1),
        "release": lambda: log.release("g", "c"),
    }
    redis_server.kill()
    for name, call in calls.items():
        with pytest.raises(LogUnavailable):
            call()
            pytest.fail(f"{name} answered without Redis")
    log.close()
    runtime_store.close()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private server that restarts with its data (the log's streams survive a kill)."""
    with private_redis_server(tmp_path / "persistent-redis", persist=True) as server:
        yield server


def test_the_streams_threads_wait_for_redis_and_resume(
    persistent_redis: PrivateRedis,
    make_runtime: RuntimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(worker_base, "OUTAGE_RETRY_DELAYS_S", (0.02,))
    runtime = make_runtime(mode="threads", log_url=persistent_redis.url)  # cache in-process
    viewer = runtime.actions.register("viewer", None)
    author = runtime.actions.register("author", None)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    with caplog.at_level(logging.WARNING, logger=worker_base.__name__):
        persistent_redis.kill()
        post = runtime.actions.post(author.id, "while the log is down")
        waits = {"relay", "fanout"}  # the relay cannot add, fan-out cannot read
        wait_until(lambda: waits <= {r.threadName for r in worker_records(caplog)})
        persistent_redis.restart()
        wait_until(lambda: post.id in (runtime.cache.timelines.range(viewer.id, limit=5) or []))
    assert all("waits for its backend" in r.getMessage() for r in worker_records(caplog))
    assert runtime.home.rebuilds == 1


def test_a_streams_runtime_stops_while_redis_is_down(
    redis_server: PrivateRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data", rate_limits="off", log_url=redis_server.url)
    runtime = open_runtime(settings, workers="threads")
    runtime.actions.register("author", None)
    wait_until(lambda: runtime.log.lag("fanout") == 0)  # every worker has read the streams
    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger=worker_base.__name__):
        runtime.close()  # neither a worker thread nor close fails on the lost log
    released = [r for r in worker_records(caplog) if "could not release" in r.getMessage()]
    assert {"fanout", "MainThread"} <= {r.threadName for r in released}  # its thread, close


def worker_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == worker_base.__name__]


def test_for_you_is_served_from_the_store_while_redis_is_down(
    api_factory: ApiFactory, redis_server: PrivateRedis
) -> None:
    api = api_factory(redis_url=redis_server.url)
    reader, friend = api.register("reader"), api.register("friend")
    api.follow(reader, friend)
    written = {int(api.post(friend, f"post {i}")["id"]) for i in range(3)}

    redis_server.kill()
    response = api.client.get("/api/v1/timelines/for_you", headers=reader.auth)

    # No served record, kept list or counters: the pipeline runs on the store alone.
    assert response.status_code == 200, response.text
    assert {int(s["id"]) for s in response.json()} == written
    assert response.headers["X-Starling-Ranking"] != "stale"
