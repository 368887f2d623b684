"""Engager sums kept per post: the real graph names the posts whose edges changed since a
snapshot, and a kept sum is served only while its post's edges are unchanged, so every
answer equals a fresh sum; counted by the engagers whose vectors are asked for."""

from __future__ import annotations

import threading

import numpy as np

from starling.engagements import EngagementKind, Engagements, IdArray
from starling.ranking.columns import Ids, Matrix
from starling.ranking.engagers import EngagerSums, engager_sums
from starling.realgraph import RealGraph

LIKE = int(EngagementKind.LIKE)
DIMS = 2


def edges(*pairs: tuple[int, int]) -> Engagements:
    """(account, post) likes, by author 999, at time 1."""
    return Engagements.of_rows([(account, post, 999, LIKE, 1) for account, post in pairs])


def ids(*values: int) -> IdArray:
    return np.array(values, dtype=np.int64)


class Vectors:
    """Each account's vector is (account, 1): a sum tells who engaged. Records who was
    asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, accounts: Ids) -> Matrix:
        self.asked.extend(accounts.tolist())
        return np.stack([accounts.astype(np.float64), np.ones(accounts.size)], axis=1)


def ones(found: Engagements) -> Matrix:
    return np.ones(found.size)


def fresh(graph: RealGraph, posts: Ids) -> Matrix:
    return engager_sums(graph.snapshot(), posts, Vectors(), ones, DIMS)


def test_the_graph_names_posts_whose_edges_changed_since_a_snapshot() -> None:
    graph = RealGraph(segment_edges=4, max_segments=2)
    graph.add(edges((1, 10), (2, 11)))
    first = graph.snapshot().generation
    at_first = ids(first, first)
    assert graph.stale(ids(10, 11), at_first).tolist() == [False, False]
    graph.add(edges((3, 10)))
    assert graph.stale(ids(10, 11), at_first).tolist() == [True, False]
    graph.remove(ids(2), ids(11), np.array([LIKE], np.int8))
    assert graph.stale(ids(10, 11), at_first).tolist() == [True, True]
    now = graph.snapshot().generation
    assert graph.stale(ids(10, 11), ids(now, now)).tolist() == [False, False]
    graph.add(edges(*((a, 20) for a in range(4, 14))))  # the oldest segment is dropped
    assert graph.stale(ids(10, 11), ids(now, now)).tolist() == [True, True]


def test_the_record_of_changes_stays_within_a_segment_of_posts() -> None:
    graph = RealGraph(segment_edges=2, max_segments=100)
    graph.add(edges((1, 10)))
    first = graph.snapshot().generation
    graph.add(edges((1, 11)))
    assert graph.stale(ids(10, 12), ids(first, first)).tolist() == [False, False]
    graph.add(edges((1, 12)))  # a third post: the record is forgotten, all is stale
    assert graph.stale(ids(10, 12), ids(first, first)).tolist() == [True, True]
    now = graph.snapshot().generation
    assert graph.stale(ids(10, 12), ids(now, now)).tolist() == [False, False]


def test_a_kept_sum_serves_until_its_post_changes() -> None:
    graph = RealGraph()
    graph.add(edges((1, 10), (2, 10), (3, 11)))
    cache, vectors, model = EngagerSums(graph), Vectors(), object()
    posts = ids(10, 11, 12, 10)

    first = cache.sums(model, posts, vectors, ones, DIMS)
    assert first.tolist() == [[3, 2], [3, 1], [0, 0], [3, 2]]
    assert sorted(vectors.asked) == [1, 2, 3]

    vectors.asked.clear()
    assert cache.sums(model, posts, vectors, ones, DIMS).tolist() == first.tolist()
    assert vectors.asked == []  # all three kept (a post without engagers too)
    assert (cache.hits, cache.misses) == (3, 3)

    graph.add(edges((4, 10)))
    assert cache.sums(model, posts, vectors, ones, DIMS).tolist() == fresh(graph, posts).tolist()
    assert sorted(vectors.asked) == [1, 2, 4]  # post 10 alone, summed again

    vectors.asked.clear()
    cache.sums(object(), posts, vectors, ones, DIMS)  # another model: nothing kept serves
    assert sorted(vectors.asked) == [1, 2, 3, 4]


def test_a_small_ring_always_answers_fresh_sums() -> None:
    rng = np.random.default_rng(7)
    graph = RealGraph(segment_edges=16, max_segments=3)
    cache, model = EngagerSums(graph, capacity=5), object()
    for step in range(300):
        if step % 3 == 0:
            pairs = zip(
                rng.integers(1, 30, 3).tolist(), rng.integers(10, 22, 3).tolist(), strict=True
            )
            graph.add(edges(*pairs))
        elif step % 7 == 0:
            graph.remove(ids(), ids(), np.empty(0, np.int8), posts=ids(int(rng.integers(10, 22))))
        posts = rng.integers(10, 22, int(rng.integers(1, 9)))
        found = cache.sums(model, posts, Vectors(), ones, DIMS)
        assert found.tolist() == fresh(graph, posts).tolist()
    assert cache.hits > 0


def test_sums_read_during_writes_never_outlive_them() -> None:
    graph = RealGraph(segment_edges=64, max_segments=4)
    cache, model = EngagerSums(graph, capacity=8), object()
    posts = np.arange(10, 30, dtype=np.int64)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        rng = np.random.default_rng(threading.get_ident() % 1000)
        try:
            while not stop.is_set():
                cache.sums(model, rng.choice(posts, 6), Vectors(), ones, DIMS)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(8)]
    for reader in readers:
        reader.start()
    rng = np.random.default_rng(3)
    for account in range(1, 400):
        graph.add(edges((account, int(rng.choice(posts)))))
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors
    assert cache.sums(model, posts, Vectors(), ones, DIMS).tolist() == fresh(graph, posts).tolist()
