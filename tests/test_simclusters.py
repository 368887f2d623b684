"""SimClusters: the job finds planted communities, likes move post vectors, the worker is
idempotent, the index reloads newer versions and candidates follow the viewer's community."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from starling.cli import main
from starling.engagements import EngagementKind, Engagements
from starling.events import Event, LikeCreated
from starling.foryou.filters import MIN_SIMILARITY
from starling.ids import now_ms
from starling.mixer import Page, Query
from starling.model import Account
from starling.runtime import Runtime
from starling.simclusters.candidates import candidates
from starling.simclusters.communities import Communities, Ids
from starling.simclusters.index import SimClustersIndex
from starling.simclusters.posts import HOUR_MS, PostVectorParams, PostVectors
from starling.simclusters.train import TrainParams, train
from starling.simclusters.versions import directory_in, save_version, versions
from starling.window import WINDOW_MS
from starling.workers.simclusters import SimClustersWorker
from tests.fixtures_runtime import RuntimeFactory

PRODUCERS = 3
CONSUMERS = 8
PARAMS = TrainParams(min_followers=5, clusters=2)


@dataclass
class Planted:
    runtime: Runtime
    producers: list[list[Account]]  # per community
    consumers: list[list[Account]]
    bridge: Account  # follows every producer of A and one of B

    @property
    def worker(self) -> SimClustersWorker:
        worker = self.runtime.workers[SimClustersWorker.name]
        assert isinstance(worker, SimClustersWorker)
        return worker

    def train(self) -> Communities:
        train(self.runtime.store, self.directory, PARAMS, progress=False)
        self.worker.index.check_every_s = 0.0
        self.worker.tick()
        model = self.worker.index.current()
        assert model is not None
        return model

    @property
    def directory(self) -> Path:
        return directory_in(self.runtime.settings.data_dir)

    def cluster_of(self, model: Communities, accounts: list[Account]) -> set[int]:
        return set(model.known_for_of(np.array([a.id for a in accounts])).tolist())


@pytest.fixture
def planted(make_runtime: RuntimeFactory) -> Planted:
    """Two communities, A and B: each consumer follows every producer of its own."""
    runtime = make_runtime()
    counter = iter(range(1000))

    def make(n: int) -> list[Account]:
        return [runtime.actions.register(f"user{next(counter)}", None) for _ in range(n)]

    producers, consumers = [make(PRODUCERS), make(PRODUCERS)], [make(CONSUMERS), make(CONSUMERS)]
    for own, fans in zip(producers, consumers, strict=True):
        for fan in fans:
            for producer in own:
                runtime.actions.follow(fan.id, producer.id)
    [bridge] = make(1)
    for producer in [*producers[0], producers[1][0]]:
        runtime.actions.follow(bridge.id, producer.id)
    return Planted(runtime, producers, consumers, bridge)


def test_job_finds_the_planted_communities(planted: Planted) -> None:
    model = planted.train()
    a, b = (planted.cluster_of(model, p) for p in planted.producers)
    assert len(a) == 1 and len(b) == 1 and a != b
    assert model.producer_ids.size == 2 * PRODUCERS  # the consumers have no followers


def test_interested_in_follows_the_follows(planted: Planted) -> None:
    model = planted.train()
    [a], [b] = (planted.cluster_of(model, p) for p in planted.producers)
    clusters, weights = model.interested_in(planted.consumers[0][0].id)
    assert clusters.tolist() == [a]
    assert weights.tolist() == pytest.approx([1.0])
    clusters, weights = model.interested_in(planted.bridge.id)
    assert clusters.tolist() == [a, b]  # heaviest first: three follows in A, one in B
    assert float(np.linalg.norm(weights)) == pytest.approx(1.0)
    assert model.interested_in(planted.producers[0][0].id)[0].size == 0  # follows nobody


def test_likes_move_post_vectors(planted: Planted) -> None:
    model = planted.train()
    [a], [b] = (planted.cluster_of(model, p) for p in planted.producers)
    actions, posts = planted.runtime.actions, planted.worker.posts
    post = actions.post(planted.producers[0][0].id, "in A")
    assert posts.vector(post.id)[0].size == 0
    actions.like(planted.consumers[0][0].id, post.id)
    assert posts.vector(post.id)[0].tolist() == [a]
    actions.like(planted.consumers[1][0].id, post.id)
    actions.like(planted.consumers[1][1].id, post.id)
    assert posts.vector(post.id)[0].tolist() == [b, a]  # two likes from B outweigh one


def test_a_new_version_is_rebuilt_from_the_stored_likes_of_the_window(planted: Planted) -> None:
    actions = planted.runtime.actions
    liked = actions.post(planted.producers[0][0].id, "in A")
    for fan in planted.consumers[0][:2]:  # liked before any communities exist
        actions.like(fan.id, liked.id)
    assert planted.worker.posts.vector(liked.id)[0].size == 0
    model = planted.train()  # the worker moves to the first version: rebuilt from the store
    [a] = planted.cluster_of(model, planted.producers[0])
    assert planted.worker.posts.vector(liked.id)[0].tolist() == [a]
    # A like both rebuilt and delivered again by the log counts once.
    before = planted.worker.posts.vector(liked.id)[1]
    planted.worker.apply([LikeCreated(liked.id, liked.author_id, planted.consumers[0][0].id,
                                      liked.created_at)])  # fmt: skip
    assert planted.worker.posts.vector(liked.id)[1].tolist() == before.tolist()
    # Likes older than the window are not read.
    late = SimClustersWorker(
        planted.runtime.log,
        planted.worker.index,
        planted.runtime.store,
        clock=lambda: now_ms() + WINDOW_MS + 60_000,
    )
    late.tick()
    assert late.posts.table is not None and late.posts.vector(liked.id)[0].size == 0


def test_worker_is_idempotent_under_redelivery(planted: Planted) -> None:
    planted.train()
    post = planted.runtime.actions.post(planted.producers[0][0].id, "in A")
    likes: list[Event] = [
        LikeCreated(post.id, post.author_id, fan.id, post.created_at)
        for fan in planted.consumers[0][:3]
    ]
    planted.worker.apply(likes)
    before = planted.worker.posts.vector(post.id)
    planted.worker.apply(likes)
    after = planted.worker.posts.vector(post.id)
    assert after[0].tolist() == before[0].tolist()
    assert after[1].tolist() == before[1].tolist()


def test_candidates_for_a_member_of_a_come_from_a(planted: Planted) -> None:
    planted.train()
    actions = planted.runtime.actions
    fans_a, fans_b = planted.consumers
    posts_a = [actions.post(p.id, "A") for p in planted.producers[0]]
    posts_b = [actions.post(p.id, "B") for p in planted.producers[1]]
    for post, fans in [*((p, fans_a) for p in posts_a), *((p, fans_b) for p in posts_b)]:
        for fan in fans[1:4]:
            actions.like(fan.id, post.id)
    ids, scores = candidates(planted.worker.posts, fans_a[0].id)
    assert sorted(ids.tolist()) == sorted(p.id for p in posts_a)
    assert scores.tolist() == pytest.approx([1.0] * len(posts_a))
    assert candidates(planted.worker.posts, planted.producers[0][0].id)[0].size == 0


def test_newer_likes_weigh_more_and_old_posts_give_up_their_slot(planted: Planted) -> None:
    model = planted.train()
    posts = PostVectors(PostVectorParams(capacity=2, half_life_ms=HOUR_MS))
    posts.reset(model, now_ms=0)
    fan = planted.consumers[0][0].id
    assert posts.add_like(1, fan, at_ms=0)
    assert posts.add_like(2, fan, at_ms=HOUR_MS)
    assert posts.vector(2)[1] == pytest.approx(2 * posts.vector(1)[1])
    assert candidates(posts, fan)[0].tolist() == [2, 1]  # cosines tie: the heavier first
    assert posts.add_like(3, fan, at_ms=HOUR_MS)
    assert posts.vector(1)[0].size == 0
    assert sorted(candidates(posts, fan)[0].tolist()) == [2, 3]


def test_index_loads_the_newest_version_when_it_checks(planted: Planted) -> None:
    model = planted.train()
    now = [0.0]
    index = SimClustersIndex(planted.directory, check_every_s=10.0, clock=lambda: now[0])
    assert index.current() is not None
    newer = replace(model, version=model.version + "1")
    save_version(newer, planted.directory)
    assert index.current().version == model.version  # type: ignore[union-attr]
    now[0] = 10.0
    assert index.current().version == newer.version  # type: ignore[union-attr]


def test_worker_moves_to_a_new_version_and_old_ones_are_pruned(planted: Planted) -> None:
    model = planted.train()
    for n in range(4):
        save_version(replace(model, version=f"{model.version}{n}"), planted.directory)
    planted.worker.tick()
    assert planted.worker.posts.table is not None
    assert planted.worker.posts.table.model.version == f"{model.version}3"
    assert len(versions(planted.directory)) == 3


def test_index_without_versions_has_no_communities(tmp_path: Path) -> None:
    assert SimClustersIndex(tmp_path / "none").current() is None


def test_cli_trains_a_new_version(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = str(planted.runtime.settings.data_dir)
    argv = ["train", "simclusters", "--clusters", "2", "--min-followers", "5"]
    assert main([*argv, "--data-dir", data_dir]) == 0
    assert capsys.readouterr().out.strip().endswith(".npz")
    assert len(versions(planted.directory)) == 1


def test_for_you_serves_simclusters_candidates_by_their_similarity(planted: Planted) -> None:
    planted.train()
    actions = planted.runtime.actions
    fans_a, fans_b = planted.consumers
    # Consumers follow producers only: a consumer's post is out of every viewer's network.
    liked_in_a = actions.post(fans_a[0].id, "A")
    liked_in_b = actions.post(fans_b[0].id, "B")
    for fan in fans_a[1:4]:
        actions.like(fan.id, liked_in_a.id)
    for fan in fans_b[1:4]:
        actions.like(fan.id, liked_in_b.id)
    viewer = fans_a[5]

    mixed = planted.runtime.for_you.mix(Query(viewer.id, Page(limit=35)))

    counts = mixed.trace.counts()
    assert (counts["in-network"], counts["real-graph"], counts["simclusters"]) == (0, 0, 1)
    assert counts["social-proof"] == counts["ranked-page"] == 1
    assert [p.id for p in mixed.candidates.records()] == [liked_in_a.id]
    assert mixed.candidates.feature("similarity").tolist() == pytest.approx([1.0])
    assert mixed.candidates.feature("similarity")[0] >= MIN_SIMILARITY


def _likes(planted: Planted) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Likes of five posts from both communities and the bridge, at distinct times."""
    fans_a, fans_b = planted.consumers
    likers = [*fans_a[:4], *fans_b[:3], planted.bridge]
    rows = [(1 + n % 5, liker.id, n * HOUR_MS // 4) for n, liker in enumerate(likers * 2)]
    rows.append((1, planted.producers[0][0].id, HOUR_MS))  # a liker without an InterestedIn
    post, liker, at = (np.array(column, np.int64) for column in zip(*rows, strict=True))
    return post, liker, at


def _one_by_one(
    model: Communities, likes: tuple[np.ndarray, ...], landmark_ms: int = 0
) -> PostVectors:
    posts = PostVectors()
    posts.reset(model, landmark_ms)
    for n in np.argsort(likes[2], kind="stable").tolist():
        posts.add_like(*(int(column[n]) for column in likes))
    return posts


def test_bulk_likes_build_the_vectors_one_by_one_likes_build(planted: Planted) -> None:
    model = planted.train()
    post, liker, at = likes = _likes(planted)
    one_by_one = _one_by_one(model, likes)
    bulk = PostVectors()
    bulk.reset(model, now_ms=0)
    shuffled = np.random.default_rng(0).permutation(post.size)

    assert bulk.add_likes(post[shuffled], liker[shuffled], at[shuffled]) == post.size - 1

    assert len(bulk) == len(one_by_one) == 5
    for post_id in range(1, 6):  # two clusters, width 8: no vector is cut
        clusters, weights = bulk.vector(post_id)
        assert clusters.tolist() == one_by_one.vector(post_id)[0].tolist()
        assert weights.tolist() == pytest.approx(one_by_one.vector(post_id)[1].tolist())
    for viewer in [planted.consumers[0][5], planted.consumers[1][5], planted.bridge]:
        ids, scores = candidates(bulk, viewer.id)
        expected = dict(zip(*(c.tolist() for c in candidates(one_by_one, viewer.id)), strict=True))
        assert dict(zip(ids.tolist(), scores.tolist(), strict=True)) == pytest.approx(expected)
        assert ids.size == 5


def test_bulk_likes_count_once_however_delivered(planted: Planted) -> None:
    model = planted.train()
    post, liker, at = _likes(planted)
    posts = PostVectors()
    posts.reset(model, now_ms=0)
    twice = np.concatenate([post[:3], post[:3]]), np.concatenate([liker[:3], liker[:3]])
    assert posts.add_likes(*twice, np.concatenate([at[:3], at[:3] + 1])) == 3
    assert posts.add_likes(post, liker, at) == post.size - 4  # the first 3 already counted
    before = {p: posts.vector(p)[1].tolist() for p in range(1, 6)}

    assert posts.add_likes(post, liker, at) == 0
    assert not any(posts.add_like(*(int(c[n]) for c in (post, liker, at))) for n in range(9))

    assert {p: posts.vector(p)[1].tolist() for p in range(1, 6)} == before
    assert posts.add_like(1, planted.consumers[0][7].id, int(at.max()))  # a new pair counts


def test_bulk_likes_leave_the_slots_to_the_newest_posts(planted: Planted) -> None:
    model = planted.train()
    fans = [fan.id for fan in planted.consumers[0]]
    posts = PostVectors(PostVectorParams(capacity=2))
    posts.reset(model, now_ms=0)
    # Post 1's newest like is the latest, post 3's the earliest.
    batch = [(1, fans[0], 0), (2, fans[1], 1), (3, fans[2], 2), (4, fans[3], 3), (1, fans[4], 4)]
    post, liker, at = (np.array(column, np.int64) for column in zip(*batch, strict=True))

    assert posts.add_likes(post, liker, at) == 5

    def listed() -> set[int]:
        assert posts.table is not None
        return set(posts.table.top_post[posts.table.top_post >= 0].tolist())

    assert len(posts) == 2 and posts.vector(2)[0].size == posts.vector(3)[0].size == 0
    assert listed() == {1, 4}
    assert posts.vector(1)[1] == pytest.approx(2 * posts.vector(4)[1])  # both likes count
    assert posts.add_likes(np.array([5]), np.array([fans[5]]), np.array([5])) == 1
    assert listed() == {1, 5}  # post 4 had the oldest slot
    assert sorted(candidates(posts, fans[6])[0].tolist()) == [1, 5]


class CountingPostVectors(PostVectors):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def add_like(self, post_id: int, liker_id: int, at_ms: int) -> bool:
        self.calls["add_like"] += 1
        return super().add_like(post_id, liker_id, at_ms)

    def add_likes(self, post_ids: Ids, liker_ids: Ids, at_ms: Ids) -> int:
        self.calls["add_likes"] += 1
        return super().add_likes(post_ids, liker_ids, at_ms)


def test_rebuild_adds_the_stored_likes_in_one_batch(planted: Planted) -> None:
    actions = planted.runtime.actions
    liked = [actions.post(producer.id, "liked") for producer in planted.producers[0]]
    for post in liked:
        for fan in [*planted.consumers[0][:3], planted.consumers[1][0]]:
            actions.like(fan.id, post.id)
    counting = planted.worker.posts = CountingPostVectors()

    model = planted.train()  # the worker moves to the first version: rebuilt from the store

    assert counting.calls == Counter(add_likes=1)
    stored = Engagements.concat(planted.runtime.store.iter_engagements(0, 1000))
    assert stored.size == len(liked) * 4 and (stored.kind == EngagementKind.LIKE).all()
    assert counting.table is not None
    landmark = counting.table.landmark_ms
    one_by_one = _one_by_one(model, (stored.post, stored.account, stored.time), landmark)
    for post in liked:
        assert counting.vector(post.id)[1].tolist() == pytest.approx(
            one_by_one.vector(post.id)[1].tolist()
        )
