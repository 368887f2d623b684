"""The feature store and the light features: columns right for planted cases, idempotent
on re-delivered events, rebuilt from the store on restart; one read per feature group for
the whole batch; the low-quality filter by counting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from starling.artifacts import new_version
from starling.engagements import EngagementKind, Engagements
from starling.foryou.timeline import ForYouTimeline
from starling.ids import now_ms
from starling.mixer import Page, Query
from starling.mixer.candidates import FEATURES, Candidates
from starling.model import Account
from starling.ranking import content
from starling.ranking.content import ContentReader
from starling.ranking.features import NAMES, TABLE, of_group
from starling.ranking.heavy.history import Histories, RealGraphHistory
from starling.ranking.heavy.tokens import TokenRows
from starling.ranking.hydrators import AccountFeatures, PostFeatures
from starling.ranking.quality import LowQuality
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.stages import RankingInputs
from starling.ranking.state import ACCOUNT_READ, POST_READ, FeatureState, StateParams
from starling.ranking.twhin import TwhinReader
from starling.realgraph import RealGraph
from starling.runtime import Runtime, open_runtime
from starling.simclusters.communities import Communities
from starling.simclusters.index import open_index
from starling.simclusters.versions import directory_in, save_version
from starling.twhin.embeddings import Embeddings, artifacts_in, newest
from tests.counting import Counting
from tests.test_foryou import FakeOutOfNetwork, Proposals

Accounts = Callable[[int], list[Account]]


def post_row(state: FeatureState, post_id: int, at: int | None = None) -> dict[str, float]:
    block = state.read_posts(np.array([post_id], dtype=np.int64), at or now_ms())
    return dict(zip(POST_READ, block[0].tolist(), strict=True))


def account_row(state: FeatureState, account_id: int, at: int | None = None) -> dict[str, float]:
    block = state.read_accounts(np.array([account_id], dtype=np.int64), at or now_ms())
    return dict(zip(ACCOUNT_READ, block[0].tolist(), strict=True))


@pytest.fixture
def planted(runtime: Runtime, accounts: Accounts) -> tuple[int, int, int, int]:
    """An author's post liked twice, reposted and replied to; a bot's post; one unlike."""
    author, fan, other = (a.id for a in accounts(3))
    bot = runtime.actions.register("spambot", None, bot=True).id
    post = runtime.actions.post(author, "hello #a #b").id
    runtime.actions.post(author, "second")
    runtime.actions.like(fan, post)
    runtime.actions.like(other, post)
    runtime.actions.repost(other, post)
    runtime.actions.post(fan, "@user0 sure", reply_to_id=post)
    spam = runtime.actions.post(bot, "buy #x #y").id
    runtime.actions.like(fan, spam)
    runtime.actions.unlike(fan, spam)
    return author, fan, post, bot


def test_feature_columns_of_planted_engagement(
    runtime: Runtime, planted: tuple[int, int, int, int]
) -> None:
    author, fan, post, bot = planted
    row = post_row(runtime.features, post)
    assert (row["likes"], row["reposts"], row["replies"]) == (2, 1, 1)
    # Everything happened just now: a 1 h forward-decayed rate is the count per hour.
    assert row["likes_1h"] == pytest.approx(2, rel=0.01)
    assert row["likes_24h"] == pytest.approx(2 / 24, rel=0.01)
    assert row["engagements_per_hour"] == 4  # four engagements within its first hour

    reputation = account_row(runtime.features, author)
    assert reputation["bot"] == 0 and reputation["posts"] == 2
    assert reputation["likes_per_post"] == 1  # two likes over two posts
    assert reputation["hashtags_per_post"] == 1
    assert reputation["posts_per_day"] == pytest.approx(2, rel=0.01)
    spammer = account_row(runtime.features, bot)
    assert spammer["bot"] == 1 and spammer["likes_per_post"] == 0  # the unlike took it back
    # The fan liked, replied, and liked then unliked the spam.
    assert account_row(runtime.features, fan)["engagements_per_day"] == pytest.approx(2, rel=0.01)


def test_redelivered_events_count_nothing_twice(
    runtime: Runtime, planted: tuple[int, int, int, int]
) -> None:
    state = runtime.features
    before = state.posts.values.copy(), state.accounts.values.copy()
    everything = runtime.log.read("replay", "test", 1_000)
    worker = runtime.workers["features"]
    worker.apply_entries(everything)
    worker.apply_entries(everything[3:])
    assert np.array_equal(state.posts.values, before[0])
    assert np.array_equal(state.accounts.values, before[1])


def test_a_restart_rebuilds_the_state_from_the_store(
    runtime: Runtime, planted: tuple[int, int, int, int]
) -> None:
    author, _, post, bot = planted
    restarted = open_runtime(runtime.settings, workers="sync")
    try:
        for state in (runtime.features, restarted.features):
            assert post_row(state, post)["likes"] == 2
        at = now_ms()
        for row in (post_row, account_row):
            assert row(restarted.features, post if row is post_row else author, at) == (
                pytest.approx(row(runtime.features, post if row is post_row else author, at))
            )
        assert account_row(restarted.features, bot)["bot"] == 1
        restarted.workers["features"].apply_entries(restarted.log.read("replay", "r", 1_000))
        assert post_row(restarted.features, post)["likes"] == 2  # the log replays over it
    finally:
        restarted.close()


def test_deleting_a_repost_and_a_post_uncounts_them(runtime: Runtime, accounts: Accounts) -> None:
    author, fan = (a.id for a in accounts(2))
    post = runtime.actions.post(author, "hello").id
    repost = runtime.actions.repost(fan, post).id
    runtime.actions.delete(fan, repost)
    assert post_row(runtime.features, post)["reposts"] == 0
    runtime.actions.delete(author, post)
    assert account_row(runtime.features, author)["posts"] == 0


def test_the_state_forgets_posts_older_than_its_window() -> None:
    state = FeatureState()
    old, new = (np.int64(ms << 16) for ms in (1_000_000_000_000, 1_000_200_000_000))
    state.add_posts(np.array([old, new]), np.array([7, 7]), np.array([0, 0]))
    state.compact(1_000_200_000_000)
    assert state.posts.ids.tolist() == [new]


def test_every_group_is_filled_by_its_hydrator() -> None:
    assert NAMES[:3] == ("favourites", "reblogs", "author_followers")
    assert of_group("post-features") == tuple(f"post_{n}" for n in POST_READ)
    assert len(NAMES) == len(set(NAMES)) == len(TABLE) >= 45
    assert len(of_group("account-features")) == len(AccountFeatures.names) == 9
    assert PostFeatures.names == of_group("post-features")


def test_hydration_reads_each_feature_group_once_for_the_whole_batch(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, *friends = accounts(6)
    stranger, fan = accounts(2)
    for friend in friends:
        runtime.actions.follow(viewer.id, friend.id)
        for i in range(4):
            runtime.actions.post(friend.id, f"{friend.username} {i}")
    vouched = [(runtime.actions.post(stranger.id, f"s{i}").id, (fan.id,)) for i in range(3)]
    state, graph = Counting(runtime.features), Counting(runtime.realgraph)
    store = Counting(runtime.store)
    source = FakeOutOfNetwork(Proposals(vouched))
    source.timeout_s = 60.0  # the count, not the deadline, is under test
    timeline = ForYouTimeline(
        store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        budget_scale=runtime.settings.foryou_budget_scale,  # roomy: counted, not timed
        out_of_network=[source],
        ranking=RankingInputs(features=state, realgraph=graph),  # type: ignore[arg-type]
    )

    mixed = timeline.mix(Query(viewer.id, Page(limit=35)))

    counts = mixed.trace.counts()
    assert counts["account-features"] == 23  # 20 in-network, 3 vouched: the filters read it
    assert counts["candidate-features"] == 18  # three per author passed author diversity
    assert state.calls == {"read_posts": 1, "read_accounts": 1}
    assert graph.calls == {"snapshot": 2}  # the authors' affinity, the viewer's history
    assert store.calls["account_counts"] == 1 and "get_accounts" not in store.calls
    # Three per author pass author diversity; two out-of-network close the page.
    page = mixed.candidates
    assert sorted(page.feature("social_proof").tolist()) == [0] * 15 + [1] * 2
    assert page.feature("in_network").sum() == 15
    assert (page.feature("author_statuses") == 4).sum() == 15


def test_content_similarity_of_words_the_viewer_engaged_with(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, author = accounts(2)
    # Histories kept for no time: the like below shows at once.
    reader = ContentReader(Histories(RealGraphHistory(runtime.realgraph), runtime.store, 0.0))
    near = runtime.actions.post(author.id, "apple banana")
    far = runtime.actions.post(author.id, "zebra")
    assert not reader.similarity(viewer.id, [near, far]).any()  # no history yet
    liked = runtime.actions.post(author.id, "apple banana cherry #fruit")
    runtime.actions.like(viewer.id, liked.id)

    found = reader.similarity(viewer.id, [near, far, None, liked])

    # {apple, banana} against {#fruit, apple, banana, cherry, fruit}: 2 / (sqrt(2 * 5)).
    assert found == pytest.approx([2 / 10**0.5, 0.0, 0.0, 1.0])


def test_content_similarity_tokenises_each_post_once(
    runtime: Runtime, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer, author = accounts(2)
    tokeniser = Counting(content)
    monkeypatch.setattr(content, "post_tokens", tokeniser.post_tokens)
    reader = ContentReader(Histories(RealGraphHistory(runtime.realgraph), runtime.store))
    liked = runtime.actions.post(author.id, "apple banana apple #fruit")
    runtime.actions.like(viewer.id, liked.id)
    shown = [runtime.actions.post(author.id, f"apple {word}") for word in ("kiwi", "plum")]

    first = reader.similarity(viewer.id, [*shown, liked, None, shown[0]])
    again = reader.similarity(viewer.id, [*shown, liked])

    assert tokeniser.calls["post_tokens"] == 3  # each post once, over both requests
    # {apple, kiwi} against {#fruit, apple, banana, fruit}: 1 / sqrt(2 * 4).
    assert first == pytest.approx([8**-0.5, 8**-0.5, 1.0, 0.0, 8**-0.5])
    assert np.array_equal(again, first[:3])
    reader.bags = TokenRows(content.bag_of, capacity=2)  # full after each batch: afresh
    for _ in range(2):
        assert np.array_equal(reader.similarity(viewer.id, [*shown, liked, None]), first[:4])


def test_the_low_quality_filter_counts(runtime: Runtime, accounts: Accounts) -> None:
    batch = Candidates.of(np.arange(1, 7, dtype=np.int64) << 16)
    columns = ("author_bot", "author_likes_per_post", "author_posts_per_day",
               "author_hashtags_per_post")  # fmt: skip
    planted = np.array(
        [
            [1, 0.0, 1, 0],  # a declared bot nobody likes: out
            [1, 3.0, 1, 0],  # a declared bot people like (a news feed): in
            [0, 0.0, 50, 2],  # posts at a bot's rate, hashtags, no engagement: out
            [0, 0.0, 50, 0],  # prolific, no hashtags: in
            [0, 2.0, 50, 2],  # prolific with hashtags, engaged with: in
            [0, 0.0, 1, 2],  # quiet, unengaged: in
        ]
    )
    batch = batch.with_features(columns, planted)
    keep = LowQuality().keep(Query(1), batch)
    assert keep.tolist() == [False, True, False, True, True, True]
    assert FEATURES.index("author_bot") >= 0


def test_simclusters_features_of_planted_interests(tmp_path: Path) -> None:
    # Two clusters; the viewer (1) and account 2 are interested in cluster 0 only, account
    # 3 in cluster 1 only; 2 is a producer KnownFor cluster 0.
    communities = Communities(
        version=new_version(),
        clusters=2,
        producer_ids=np.array([2], np.int64),
        known_for=np.array([0], np.int32),
        known_score=np.array([1.0], np.float32),
        consumer_ids=np.array([1, 2, 3], np.int64),
        interest_ptr=np.array([0, 1, 2, 3], np.int64),
        interest_clusters=np.array([0, 0, 1], np.int32),
        interest_weights=np.array([1.0, 1.0, 1.0], np.float32),
    )
    save_version(communities, directory_in(tmp_path))
    graph = RealGraph()
    # Post 10 was liked by 2 (cluster 0), post 11 by 3 (cluster 1), post 12 by both.
    like = int(EngagementKind.LIKE)
    graph.add(Engagements.of_rows([(2, 10, 9, like, 1), (3, 11, 9, like, 2), (2, 12, 9, like, 3),
                                   (3, 12, 9, like, 4)]))  # fmt: skip
    reader = SimClustersReader(open_index(tmp_path), graph=graph)

    block = reader.features(1, np.array([2, 3, 4, 2]), np.array([10, 11, 12, 13]))

    assert block[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]  # author InterestedIn cosine
    assert block[:, 1].tolist() == [1.0, 0.0, 0.0, 1.0]  # interest in the author's KnownFor
    assert block[:, 3] == pytest.approx([1.0, 0.0, 2**-0.5, 0.0])  # engagers' cosine


def test_twhin_features_of_planted_embeddings(tmp_path: Path) -> None:
    # The viewer (1) and account 2 point along x, account 3 along y, account 4 has no
    # embedding.
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    embeddings = Embeddings(new_version(), np.array([1, 2, 3], np.int64), vectors)
    artifacts_in(tmp_path).save(embeddings.version, embeddings.save)
    graph = RealGraph()
    # Post 10 (by 3) was liked by 2; post 11 (by 2) reposted by 3 (weight 2); post 12 (by
    # 4) has no engagement and an author without an embedding.
    like, repost = int(EngagementKind.LIKE), int(EngagementKind.REPOST)
    graph.add(Engagements.of_rows([(2, 10, 3, like, 1), (3, 11, 2, repost, 2)]))
    reader = TwhinReader(newest(tmp_path), graph)

    block = reader.features(1, np.array([3, 2, 4]), np.array([10, 11, 12]))

    assert block[:, 0] == pytest.approx([0.0, 1.0, 0.0])  # viewer x author
    # Post vectors: y + x (10); x + 2y (11); nothing (12).
    assert block[:, 1] == pytest.approx([2**-0.5, 5**-0.5, 0.0])
    assert (
        not TwhinReader(newest(tmp_path / "none"), graph)
        .features(1, np.array([3]), np.array([10]))
        .any()
    )  # before the job has run


def test_a_declared_bot_nobody_likes_is_filtered_from_the_timeline(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, friend, fan = accounts(3)
    bot = runtime.actions.register("newsbot", None, bot=True)
    liked_bot = runtime.actions.register("goodbot", None, bot=True)
    for followed in (friend, bot, liked_bot):
        runtime.actions.follow(viewer.id, followed.id)
    runtime.actions.post(friend.id, "hello")
    spam = [runtime.actions.post(bot.id, f"buy {i} #x #y").id for i in range(2)]
    liked = runtime.actions.post(liked_bot.id, "the weather").id
    runtime.actions.like(fan.id, liked)
    timeline = ForYouTimeline(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        budget_scale=runtime.settings.foryou_budget_scale,  # roomy: counted, not timed
        ranking=RankingInputs(features=runtime.features, realgraph=runtime.realgraph),
    )

    mixed = timeline.mix(Query(viewer.id, Page(limit=35)))

    step = mixed.trace.step("low-quality")
    assert (step.candidates_in, step.candidates_out) == (4, 2)
    assert sorted(step.removed_ids.tolist()) == spam


def test_the_engagement_memory_is_bounded_and_keeps_the_newest() -> None:
    state = FeatureState(StateParams(applied_capacity=4))
    like = int(EngagementKind.LIKE)
    rows = [(account, 10, 9, like, account) for account in range(1, 7)]
    assert state.add_engagements(Engagements.of_rows(rows)) == 6
    # The newest three (of a capacity of four) are remembered: a re-delivery adds nothing.
    assert state.add_engagements(Engagements.of_rows(rows[3:])) == 0
    assert state.add_engagements(Engagements.of_rows(rows[:1])) == 1
