"""The real graph worker, fed by real actions in sync mode: engagements become edges once,
undoing them removes them, and a restart rebuilds the same graph from the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from starling.cli import main
from starling.config import Settings
from starling.engagements import EngagementKind, Engagements
from starling.model import Account
from starling.runtime import Runtime, open_runtime
from starling.up import plan
from tests.counting import Counting
from tests.fixtures_runtime import RuntimeFactory

LIKE, REPOST, REPLY = (int(kind) for kind in EngagementKind)
Edge = tuple[int, int, int, int]  # account, post, author, kind


def live_edges(runtime: Runtime) -> set[Edge]:
    found = runtime.realgraph.snapshot().live()
    columns = (found.account, found.post, found.author, found.kind)
    return {(int(a), int(p), int(au), int(k)) for a, p, au, k in zip(*columns, strict=True)}


@pytest.fixture
def people(accounts: Callable[[int], list[Account]]) -> tuple[int, int, int]:
    author, fan, other = accounts(3)
    return author.id, fan.id, other.id


def test_likes_reposts_and_open_replies_become_edges(
    runtime: Runtime, people: tuple[int, int, int]
) -> None:
    author, fan, other = people
    post = runtime.actions.post(author, "hello").id
    runtime.actions.like(fan, post)
    runtime.actions.repost(other, post)
    runtime.actions.post(other, "@user0 yes", reply_to_id=post)
    runtime.actions.post(fan, "@user0 quietly", reply_to_id=post, visibility="direct")
    runtime.actions.post(author, "and more", reply_to_id=post)  # a thread: no signal
    assert live_edges(runtime) == {
        (fan, post, author, LIKE),
        (other, post, author, REPOST),
        (other, post, author, REPLY),
    }
    assert runtime.log.lag("realgraph") == 0


def test_redelivered_events_add_nothing(runtime: Runtime, people: tuple[int, int, int]) -> None:
    author, fan, other = people
    post = runtime.actions.post(author, "hello").id
    runtime.actions.like(fan, post)
    runtime.actions.repost(other, post)
    before, size = live_edges(runtime), runtime.realgraph.snapshot().size
    everything = runtime.log.read("replay", "test", 1_000)
    runtime.realgraph_worker.apply_entries(everything)
    runtime.realgraph_worker.apply_entries(everything)
    assert live_edges(runtime) == before
    assert runtime.realgraph.snapshot().size == size


def test_undoing_an_engagement_or_deleting_the_post_removes_edges(
    runtime: Runtime, people: tuple[int, int, int]
) -> None:
    author, fan, other = people
    post = runtime.actions.post(author, "hello").id
    kept = runtime.actions.post(author, "kept").id
    runtime.actions.like(fan, post)
    runtime.actions.like(fan, kept)
    repost = runtime.actions.repost(other, post).id
    runtime.actions.unlike(fan, post)
    assert live_edges(runtime) == {(fan, kept, author, LIKE), (other, post, author, REPOST)}
    runtime.actions.delete(other, repost)
    assert live_edges(runtime) == {(fan, kept, author, LIKE)}
    runtime.actions.like(fan, post)
    runtime.actions.repost(other, post)
    runtime.actions.delete(author, post)
    assert live_edges(runtime) == {(fan, kept, author, LIKE)}


def test_a_restart_rebuilds_the_graph_from_the_store(
    runtime: Runtime, people: tuple[int, int, int]
) -> None:
    author, fan, other = people
    post = runtime.actions.post(author, "hello").id
    gone = runtime.actions.post(author, "gone").id
    runtime.actions.like(fan, post)
    runtime.actions.like(other, gone)
    runtime.actions.unlike(other, gone)
    runtime.actions.repost(other, post)
    runtime.actions.post(fan, "@user0 sure", reply_to_id=post)
    restarted = open_runtime(runtime.settings, workers="sync")
    try:
        assert live_edges(restarted) == live_edges(runtime)
        assert len(live_edges(restarted)) == 3
        restarted.drain()  # the log replays over the rebuilt graph: nothing changes
        assert live_edges(restarted) == live_edges(runtime)
    finally:
        restarted.close()


def test_a_batch_of_additions_is_one_graph_write(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(mode="none")  # events wait in the log until drained below
    author, *fans = (runtime.actions.register(f"user{i}", None).id for i in range(30))
    posts = [runtime.actions.post(author, f"post {i}").id for i in range(3)]
    for fan in fans:
        for post in posts:
            runtime.actions.like(fan, post)
    runtime.actions.unlike(fans[0], posts[0])
    worker = runtime.realgraph_worker
    counting = Counting(runtime.realgraph)
    worker.graph = counting  # type: ignore[assignment]
    worker.drain()
    assert counting.calls == {"add": 1, "remove": 1}
    assert runtime.realgraph.snapshot().live_edges == 29 * 3 - 1


def test_old_engagements_stay_out_of_the_window(
    runtime: Runtime, people: tuple[int, int, int]
) -> None:
    author, fan, _ = people
    worker = runtime.realgraph_worker
    worker.clock = lambda: 10**13  # far in the future: every engagement is too old
    post = runtime.actions.post(author, "hello").id
    runtime.actions.like(fan, post)
    assert live_edges(runtime) == set()
    assert worker.rebuild() == 0
    worker.clock = lambda: 0
    assert worker.rebuild() == 1


def test_the_graph_is_fed_only_inside_the_process_that_reads_it(tmp_path: Path) -> None:
    assert main(["worker", "realgraph", "--data-dir", str(tmp_path)]) == 2
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    assert not [c for c in plan(settings, api=2, fanout=1, listen_fd=3) if "realgraph" in c.name]


def test_engagements_rows_round_trip() -> None:
    rows = [(1, 2, 3, REPLY, 4)]
    found = Engagements.of_rows(rows)
    assert found.kind.dtype == np.int8 and Engagements.concat([found, found]).size == 2
