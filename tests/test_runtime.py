"""Runtime wiring: which workers run where."""

from __future__ import annotations

import threading

import pytest

from tests.fixtures_runtime import RuntimeFactory


def _worker_threads() -> set[str]:
    return {t.name for t in threading.enumerate()} & {"fanout", "graph", "counts"}


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
