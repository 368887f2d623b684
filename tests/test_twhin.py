"""TwHIN-style embeddings: the job separates planted communities, the ANN index finds the
exact neighbours and forgets posts older than 48 h, versions reload, and For You serves
interest-based candidates by the similarity rule, fail-open."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from starling.artifacts import new_version
from starling.cli import main
from starling.engagements import Engagements
from starling.foryou.filters import MIN_SIMILARITY
from starling.foryou.interest_sources import InterestSource, TwhinSource
from starling.foryou.timeline import ForYouTimeline
from starling.ids import id_at, now_ms
from starling.mixer import Page, Query
from starling.mixer.candidates import Ids, Scores
from starling.model import Account
from starling.runtime import Runtime
from starling.twhin.ann import PostIndex
from starling.twhin.embeddings import artifacts_in, newest
from starling.twhin.train import Graph, TrainParams, compute
from starling.window import WINDOW_MS
from starling.workers.twhin import TwhinWorker
from tests.fixtures_runtime import RuntimeFactory

HOUR_MS = 3_600_000


def planted_graph(rng: np.random.Generator, size: int = 40) -> tuple[Graph, Ids]:
    """Two communities of `size` accounts (ids 1.. and 1001..): each account follows 8
    of its own community and 1 of the other, and likes posts of its own."""
    members = [np.arange(1, size + 1), np.arange(1001, 1001 + size)]
    follower, followee = [], []
    for own, other in (members, members[::-1]):
        for account in own:
            picks = [*rng.choice(own[own != account], 8, replace=False), rng.choice(other)]
            follower += [account] * len(picks)
            followee += picks
    likers = np.concatenate(members)
    authors = np.where(likers < 1000, rng.choice(members[0], likers.size), 0)
    authors = np.where(likers > 1000, rng.choice(members[1], likers.size), authors)
    n = likers.size
    likes = Engagements(
        likers, np.arange(n) + 10**6, authors, np.zeros(n, np.int8), np.zeros(n, np.int64)
    )
    return Graph(np.array(follower), np.array(followee), likes), np.concatenate(members)


def test_embeddings_put_a_community_closer_than_across() -> None:
    graph, accounts = planted_graph(np.random.default_rng(0))
    model = compute(graph, TrainParams(dims=8), new_version())

    vectors = model.vectors[model.rows(accounts)]
    cosine = vectors @ vectors.T
    same = (accounts[:, None] < 1000) == (accounts[None, :] < 1000)
    np.fill_diagonal(same, False)
    across = (accounts[:, None] < 1000) != (accounts[None, :] < 1000)
    assert cosine[same].mean() > 0.5 > 0.0 > cosine[across].mean()
    # every account is nearer the mean of its own community than the other's
    centre = np.stack([vectors[accounts < 1000].mean(0), vectors[accounts > 1000].mean(0)])
    assert np.array_equal((vectors @ centre.T).argmax(1), (accounts > 1000).astype(int))


def test_ann_finds_the_exact_nearest_neighbours_of_a_planted_set() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 16))
    vectors = (centres[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16))).astype(
        np.float32
    )
    index = PostIndex(16)
    index.add(np.arange(3000, dtype=np.int64) + 1, vectors)
    queries = vectors[:50] + 0.1 * rng.normal(size=(50, 16)).astype(np.float32)

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    recalls = []
    for query in queries:
        exact = set((np.argsort(-(unit @ query))[:10] + 1).tolist())
        found, similarity = index.search(query, 10)
        recalls.append(len(exact & set(found.tolist())) / 10)
        assert np.all(np.diff(similarity) <= 1e-6)  # nearest first
    assert np.mean(recalls) >= 0.95


def test_adding_to_a_post_adds_to_its_vector() -> None:
    index = PostIndex(2)
    post = np.array([7], np.int64)
    index.add(post, np.array([[1.0, 0.0]], np.float32))
    index.add(np.array([7, 7], np.int64), np.array([[0.0, 1.0], [0.0, 2.0]], np.float32))

    assert index.vectors(post).tolist() == [[1.0, 3.0]]
    assert len(index) == 1


def test_the_index_drops_posts_older_than_48_hours() -> None:
    now = now_ms()
    old, fresh = id_at(now - WINDOW_MS - 1), id_at(now - WINDOW_MS + HOUR_MS)
    index = PostIndex(2)
    index.add(np.array([old, fresh], np.int64), np.ones((2, 2), np.float32))

    assert index.expire(now - WINDOW_MS) == 1
    found, _ = index.search(np.ones(2, np.float32), 10)
    assert found.tolist() == [fresh] and len(index) == 1


def test_versions_reload_and_the_newest_is_served(tmp_path: Path) -> None:
    graph, _ = planted_graph(np.random.default_rng(2))
    reader = newest(tmp_path, check_every_s=0.0)
    assert reader.current() is None
    artifacts = artifacts_in(tmp_path)
    first = compute(graph, TrainParams(dims=4), new_version())
    artifacts.save(first.version, first.save)
    loaded = reader.current()
    assert loaded is not None and loaded.version == first.version
    np.testing.assert_array_equal(loaded.vectors, first.vectors)

    time.sleep(0.002)
    second = compute(graph, TrainParams(dims=6), new_version())
    artifacts.save(second.version, second.save)

    reloaded = reader.current()
    assert reloaded is not None and (reloaded.version, reloaded.dims) == (second.version, 6)


# Served through For You


def community_world(runtime: Runtime) -> tuple[list[list[Account]], Account]:
    """Two communities of 12 accounts, each following 6 of its own and 1 of the other; a
    viewer following the first 6 of community A (the others' posts are out of its
    network)."""
    made = [[runtime.actions.register(f"c{c}m{i}", None) for i in range(12)] for c in range(2)]
    for members, others in (made, made[::-1]):
        for i, account in enumerate(members):
            for j in range(1, 7):
                runtime.actions.follow(account.id, members[(i + j) % 12].id)
            runtime.actions.follow(account.id, others[i].id)
    viewer = runtime.actions.register("viewer", None)
    for account in made[0][:6]:
        runtime.actions.follow(viewer.id, account.id)
    return made, viewer


def trained_worker(runtime: Runtime) -> TwhinWorker:
    worker = runtime.workers[TwhinWorker.name]
    assert isinstance(worker, TwhinWorker)
    data_dir = str(runtime.settings.data_dir)
    assert main(["train", "embeddings", "--dims", "8", "--data-dir", data_dir]) == 0
    worker.embeddings.check_every_s = 0.0
    runtime.drain()  # the worker's tick rebuilds the index on the new version
    return worker


def test_for_you_serves_twhin_candidates_near_the_viewer(runtime: Runtime) -> None:
    (a, b), viewer = community_world(runtime)
    near = runtime.actions.post(a[9].id, "community a")
    far = runtime.actions.post(b[9].id, "community b")
    worker = trained_worker(runtime)
    assert worker.posts is not None and len(worker.posts.index) == 2  # rebuilt from the store
    for fan in (a[6], a[7], a[8], a[10]):  # none the viewer follows: no real-graph proof
        runtime.actions.like(fan.id, near.id)  # the worker adds the likers' embeddings

    mixed = runtime.for_you.mix(Query(viewer.id, Page(limit=35)))

    counts = mixed.trace.counts()
    assert counts["twhin"] == 2
    assert mixed.trace.step("social-proof").removed_ids.tolist() == [far.id]
    assert [p.id for p in mixed.candidates.records()] == [near.id]
    runtime.for_you.read(viewer.id)
    why = runtime.for_you.explain(viewer.id, near.id)
    assert why is not None and why["source"] == "twhin"
    assert why["features"]["similarity"] >= MIN_SIMILARITY and why["social_proof"] == []


class Fixed:
    """An interest index that answers what it is given."""

    def __init__(self, ids: list[int], similarity: list[float], delay_s: float = 0.0) -> None:
        self.answer = np.array(ids, np.int64), np.array(similarity)
        self.delay_s = delay_s

    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
        time.sleep(self.delay_s)
        return self.answer


class Slow(InterestSource):
    id = "slow-interest"
    timeout_s = 0.05


def timeline(runtime: Runtime, *sources: InterestSource) -> ForYouTimeline:
    return ForYouTimeline(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        budget_scale=runtime.settings.foryou_budget_scale,  # roomy: counted, not timed
        out_of_network=list(sources),
    )


def test_the_similarity_rule_keeps_near_interest_rows_only(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime()
    viewer, author = (runtime.actions.register(n, None) for n in ("viewer", "author"))
    near, far = (runtime.actions.post(author.id, t) for t in ("near", "far"))
    index = Fixed([near.id, far.id], [MIN_SIMILARITY, MIN_SIMILARITY - 0.01])

    mixed = timeline(runtime, TwhinSource(index)).mix(Query(viewer.id, Page(limit=35)))

    assert mixed.trace.counts()["twhin"] == 2
    assert mixed.trace.step("social-proof").removed_ids.tolist() == [far.id]
    assert [p.id for p in mixed.candidates.records()] == [near.id]


@pytest.mark.parametrize("failure", ["slow", "raises"])
def test_a_slow_or_failing_interest_source_is_dropped(
    make_runtime: RuntimeFactory, failure: str
) -> None:
    runtime = make_runtime()
    viewer, friend = (runtime.actions.register(n, None) for n in ("viewer", "friend"))
    runtime.actions.follow(viewer.id, friend.id)
    post = runtime.actions.post(friend.id, "in network")
    index = Fixed([post.id], [1.0], delay_s=1.0)
    if failure == "raises":
        index = replace_with_error(index)

    mixed = timeline(runtime, Slow(index)).mix(Query(viewer.id, Page(limit=35)))

    assert [s.id for s in mixed.trace.dropped_sources()] == ["slow-interest"]
    assert [p.id for p in mixed.candidates.records()] == [post.id]


def replace_with_error(index: Fixed) -> Fixed:
    class Broken(Fixed):
        def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
            raise RuntimeError("index offline")

    return Broken([], [])
