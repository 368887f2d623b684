"""Runtime wiring: which workers run where."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from starling.config import Settings
from starling.runtime import open_runtime
from starling.workers.registry import WORKERS
from tests.fixtures_runtime import RuntimeFactory


def _worker_threads() -> set[str]:
    return {t.name for t in threading.enumerate()} & set(WORKERS)


def test_workers_setting_picks_the_threads(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(mode="threads", workers="fanout,counts")
    assert runtime is not None
    assert _worker_threads() == {"fanout", "counts"}


def test_unknown_worker_is_refused(make_runtime: RuntimeFactory) -> None:
    with pytest.raises(ValueError, match="unknown workers"):
        make_runtime(mode="threads", workers="fanout,nope")


def test_threads_mode_fans_out_in_the_background(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(mode="threads")
    author = runtime.actions.register("author", None)
    fan = runtime.actions.register("fan", None)
    runtime.actions.follow(fan.id, author.id)
    runtime.home.read(fan.id)
    post = runtime.actions.post(author.id, "async")
    deadline = threading.Event()
    for _ in range(500):
        if runtime.log.lag("fanout") == 0:
            break
        deadline.wait(0.01)
    assert runtime.cache.timelines.range(fan.id, limit=5) == [post.id]


@pytest.mark.postgres
def test_a_runtime_on_postgresql_posts_and_fans_out(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path, store_url=postgres_url, rate_limits="off")
    runtime = open_runtime(settings, workers="sync")
    try:
        author = runtime.actions.register("author", None)
        fan = runtime.actions.register("fan", None)
        runtime.actions.follow(fan.id, author.id)
        runtime.home.read(fan.id)
        post = runtime.actions.post(author.id, "on PostgreSQL #scale", idempotency_key="k1")
        again = runtime.actions.post(author.id, "on PostgreSQL #scale", idempotency_key="k1")
        assert again.id == post.id
        assert [p.id for p in runtime.home.read(fan.id)] == [post.id]
        assert runtime.log.lag("fanout") == 0
    finally:
        runtime.close()


def test_no_relay_when_the_workers_read_the_outbox(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(mode="threads", workers="all")
    assert "relay" not in runtime.workers
    assert _worker_threads() == {
        "fanout",
        "graph",
        "counts",
        "realgraph",
        "simclusters",
        "twhin",
        "features",
        "precompute",
    }


@pytest.mark.redis
def test_sync_mode_on_redis_streams_relays_then_fans_out(
    make_runtime: RuntimeFactory, redis_url: str
) -> None:
    runtime = make_runtime(
        log_url=redis_url, redis_url=redis_url, redis_prefix=f"test:{uuid.uuid4().hex}:"
    )
    assert list(runtime.workers) == [
        "relay",
        "fanout",
        "graph",
        "counts",
        "realgraph",
        "simclusters",
        "twhin",
        "features",
        "precompute",
    ]
    assert runtime.workers["fanout"].log is runtime.log is not runtime.outbox
    author = runtime.actions.register("author", None)
    fan = runtime.actions.register("fan", None)
    runtime.actions.follow(fan.id, author.id)
    runtime.home.read(fan.id)
    post = runtime.actions.post(author.id, "through the streams")
    assert runtime.cache.timelines.range(fan.id, limit=5) == [post.id]
    assert runtime.outbox.lag("relay") == runtime.log.lag("fanout") == 0
