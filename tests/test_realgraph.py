"""The real graph: segments, idempotent writes, lock-free snapshots under a writer thread,
and the candidate and affinity queries on small hand-made graphs with known answers."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from types import FrameType

import numpy as np
import pytest

from starling.engagements import EngagementKind, Engagements, IdArray
from starling.realgraph import RealGraph, affinity, candidates, engaged_posts

LIKE, REPOST, REPLY = (int(kind) for kind in EngagementKind)
VIEWER = 100


def edges(*rows: tuple[int, int, int, int, int]) -> Engagements:
    return Engagements.of_rows(list(rows))


def ids(*values: int) -> IdArray:
    return np.array(values, dtype=np.int64)


def rows(found: Engagements) -> list[tuple[int, ...]]:
    return sorted(tuple(map(int, row)) for row in zip(*found.columns(), strict=True))


def kill(graph: RealGraph, *rows: tuple[int, int, int]) -> int:
    account, post, kind = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return graph.remove(account, post, kind.astype(np.int8))


# Segments and writes


def test_segments_fill_in_order_and_the_oldest_is_dropped_whole() -> None:
    graph = RealGraph(segment_edges=3, max_segments=2)
    assert graph.add(edges(*((i, 10 + i, 50, LIKE, i) for i in range(1, 6)))) == 5
    assert [s.size for s in graph.snapshot().segments] == [3, 2]
    graph.add(edges(*((i, 10 + i, 50, LIKE, i) for i in range(6, 8))))
    snapshot = graph.snapshot()
    assert [s.size for s in snapshot.segments] == [3, 1]
    assert [row[4] for row in rows(snapshot.live())] == [4, 5, 6, 7]


def test_an_edge_added_twice_counts_once() -> None:
    graph = RealGraph(segment_edges=2, max_segments=10)
    first = edges((1, 10, 50, LIKE, 1), (2, 10, 50, LIKE, 2), (3, 11, 50, LIKE, 3))
    assert graph.add(first) == 3
    assert graph.add(first) == 0  # re-delivered, its first edges in a full segment
    twice = edges((4, 12, 50, LIKE, 4), (4, 12, 50, LIKE, 5), (1, 10, 50, REPOST, 6))
    assert graph.add(twice) == 2  # a repeat within a batch; another kind is another edge
    assert graph.snapshot().size == 5


def test_removed_edges_and_edges_to_deleted_posts_are_gone() -> None:
    graph = RealGraph(segment_edges=2, max_segments=10)
    graph.add(edges((1, 10, 50, LIKE, 1), (2, 10, 50, LIKE, 2), (1, 11, 50, LIKE, 3)))
    graph.add(edges((3, 10, 50, REPOST, 4), (3, 12, 50, LIKE, 5)))
    assert kill(graph, (1, 11, LIKE), (9, 9, LIKE)) == 1
    assert kill(graph, (1, 11, LIKE)) == 0
    assert graph.remove(ids(), ids(), np.empty(0, np.int8), posts=ids(10)) == 3
    assert rows(graph.snapshot().live()) == [(3, 12, 50, LIKE, 5)]
    assert graph.add(edges((1, 11, 50, LIKE, 6))) == 1  # liked again after an unlike
    assert graph.snapshot().live_edges == 2


def test_self_engagements_are_left_out() -> None:
    graph = RealGraph()
    assert graph.add(edges((1, 10, 1, REPLY, 1), (2, 10, 1, LIKE, 2))) == 1


def test_adjacency_both_ways_spans_segments() -> None:
    graph = RealGraph(segment_edges=2, max_segments=10)
    graph.add(edges((1, 10, 50, LIKE, 1), (2, 10, 50, LIKE, 2), (1, 11, 51, REPOST, 3)))
    snapshot = graph.snapshot()
    assert rows(snapshot.edges_of(ids(1, 7))) == [(1, 10, 50, LIKE, 1), (1, 11, 51, REPOST, 3)]
    assert rows(snapshot.engagers_of(ids(10, 99))) == [(1, 10, 50, LIKE, 1), (2, 10, 50, LIKE, 2)]


def test_published_arrays_are_read_only() -> None:
    graph = RealGraph()
    graph.add(edges((1, 10, 50, LIKE, 1)))
    segment = graph.snapshot().segments[0]
    with pytest.raises(ValueError, match="read-only"):
        segment.edges.post[0] = 11
    kill(graph, (1, 10, LIKE))
    with pytest.raises(ValueError, match="read-only"):
        graph.snapshot().segments[0].alive[0] = True
    assert segment.alive[0]  # a reader's older snapshot is untouched


@pytest.fixture
def tiny_switches() -> Iterator[None]:
    """Thread switches as often as CPython allows, so readers land amid every write."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("tiny_switches")
def test_readers_see_whole_batches_while_a_writer_appends_and_removes() -> None:
    """Each write touches every account of the group alike (a like each, or the removal of
    a post they all liked); a reader that saw part of a write would see them differ."""
    group = np.arange(1, 11, dtype=np.int64)
    graph = RealGraph(segment_edges=50, max_segments=3)
    done = threading.Event()
    checks: list[int] = []
    failures: list[str] = []

    def write() -> None:
        for round_ in range(1, 401):
            at = np.full(group.size, round_, dtype=np.int64)
            graph.add(Engagements(group, at, at + 1000, np.zeros(group.size, np.int8), at))
            if round_ % 7 == 0:
                graph.remove(ids(), ids(), np.empty(0, np.int8), posts=ids(round_ - 1))
        done.set()

    def read() -> None:
        seen = 0
        while not done.is_set() or seen == 0:
            snapshot = graph.snapshot()
            found = snapshot.edges_of(group)
            posts = [set(found.post[found.account == a].tolist()) for a in group]
            if any(p != posts[0] for p in posts) or len(snapshot.segments) > 3:
                failures.append(f"torn read: {[len(p) for p in posts]}")
            if rows(snapshot.edges_of(group)) != rows(found):
                failures.append("a snapshot changed under its reader")
            seen += 1
        checks.append(seen)

    threads = [threading.Thread(target=read) for _ in range(3)]
    threads.append(threading.Thread(target=write))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(checks) == 3 and min(checks) > 0
    assert graph.snapshot().size == 150  # three full segments of the newest rounds


# Candidates


@pytest.fixture
def graph() -> RealGraph:
    """The viewer (100) follows 1 and 2, liked 30 (by 3) and 20 (by 2), so 2 weighs 1.5,
    1 weighs 1 and 3 weighs 0.5; 4 is no seed. Posts 12 (the viewer's) and 30 (engaged
    already) must not come back."""
    graph = RealGraph(segment_edges=4, max_segments=10)
    graph.add(
        edges(
            (1, 10, 50, LIKE, 1),
            (2, 10, 50, LIKE, 2),
            (1, 11, 51, REPOST, 3),
            (2, 12, VIEWER, LIKE, 4),
            (1, 30, 3, LIKE, 5),
            (VIEWER, 30, 3, LIKE, 6),
            (3, 13, 52, LIKE, 7),
            (4, 14, 54, LIKE, 8),
            (2, 15, 53, REPLY, 9),
            (VIEWER, 20, 2, LIKE, 10),
        )
    )
    return graph


def test_candidates_are_scored_by_weighted_co_engagement(graph: RealGraph) -> None:
    found = candidates(graph, VIEWER, ids(1, 2), limit=10)
    assert found.post_ids.tolist() == [10, 15, 11, 13]
    assert found.scores.tolist() == [2.5, 2.25, 2.0, 0.5]
    assert found.author_ids.tolist() == [50, 53, 51, 52]
    assert found.proof_counts.tolist() == [2, 1, 1, 1]
    assert found.proof_ids.tolist() == [[2, 1, 0], [2, 0, 0], [1, 0, 0], [3, 0, 0]]


def test_candidates_keep_the_best_up_to_the_limit(graph: RealGraph) -> None:
    assert candidates(graph, VIEWER, ids(1, 2), limit=2).post_ids.tolist() == [10, 15]
    assert candidates(graph, VIEWER, ids(), limit=10).post_ids.tolist() == [15, 13, 10]
    assert candidates(graph, 999, ids(), limit=10).size == 0


def test_equal_scores_rank_by_proof_then_newest() -> None:
    graph = RealGraph()
    graph.add(
        edges(
            (1, 40, 60, LIKE, 1),
            (2, 40, 60, LIKE, 2),
            (1, 41, 61, REPOST, 3),
            (2, 42, 62, REPOST, 4),
        )
    )
    assert candidates(graph, VIEWER, ids(1, 2), limit=3).post_ids.tolist() == [40, 42, 41]
    assert candidates(graph, VIEWER, ids(1, 2), limit=2).post_ids.tolist() == [40, 42]


def test_engaged_posts_of_a_set_of_accounts_keep_their_engagers(graph: RealGraph) -> None:
    found = engaged_posts(graph.snapshot(), ids(1, 3), np.array([1.0, 2.0]))
    assert found.post_ids.tolist() == [10, 11, 13, 30]
    assert found.scores.tolist() == [1.0, 2.0, 2.0, 1.0]
    assert found.proof_ids[:, 0].tolist() == [1, 1, 3, 1]


def test_affinity_weighs_the_viewers_engagements_by_kind() -> None:
    graph = RealGraph()
    graph.add(
        edges(
            (VIEWER, 10, 1, LIKE, 1),
            (VIEWER, 11, 1, REPOST, 2),
            (VIEWER, 12, 2, REPLY, 3),
            (7, 13, 3, LIKE, 4),
        )
    )
    assert affinity(graph, VIEWER, ids(2, 3, 1, 2)).tolist() == [1.5, 0.0, 3.0, 1.5]
    assert affinity(graph, 7, ids(1)).tolist() == [0.0]
    assert affinity(graph, 8, ids(1, 2)).tolist() == [0.0, 0.0]


# No Python loop per edge


def _random_graph(edges_count: int, seed: int) -> RealGraph:
    """About edges_count engagements of 200 accounts with 5,000 posts, in three full
    segments and a half-full one."""
    rng = np.random.default_rng(seed)
    graph = RealGraph(segment_edges=edges_count * 2 // 7, max_segments=4)
    post = rng.integers(1_000, 6_000, edges_count)
    graph.add(
        Engagements(
            rng.integers(1, 201, edges_count),
            post,
            post % 300 + 10_000,
            rng.integers(0, 3, edges_count).astype(np.int8),
            np.arange(edges_count, dtype=np.int64),
        )
    )
    return graph


def _python_calls(work: Callable[..., object], *args: object) -> int:
    """Function calls (Python and builtin) made while running work(*args)."""
    calls: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        calls[event] += 1

    sys.setprofile(profile)
    try:
        work(*args)
    finally:
        sys.setprofile(None)
    return calls["call"] + calls["c_call"]


@pytest.mark.parametrize(
    "query",
    [
        lambda g: candidates(g, VIEWER, np.arange(1, 101), limit=50),
        lambda g: affinity(g, 7, np.arange(10_000, 10_300)),
        lambda g: g.snapshot().engagers_of(np.arange(1_000, 3_000)),
    ],
    ids=["candidates", "affinity", "engagers"],
)
def test_queries_make_as_many_calls_on_a_hundred_times_more_edges(
    query: Callable[[RealGraph], object],
) -> None:
    small, large = _random_graph(400, seed=1), _random_graph(40_000, seed=1)
    found = candidates(large, VIEWER, np.arange(1, 101), limit=50)
    assert found.size == 50 and found.proof_counts.max() > 3  # large inputs indeed
    small_calls = _python_calls(query, small)
    assert small_calls < 1_500
    assert _python_calls(query, large) <= small_calls + 50


def test_a_write_makes_as_many_calls_for_a_hundred_times_more_edges() -> None:
    small, large = _random_graph(400, seed=2), _random_graph(40_000, seed=2)
    batch = _random_graph(70, seed=3).snapshot().segments[0].edges  # 20 edges: room in both
    small_calls = _python_calls(small.add, batch)
    assert _python_calls(large.add, batch) <= small_calls + 50
