"""The store of record's conformance suite: every Store method, uniqueness, atomicity and
races, through the public interface only, on every backend (fixtures_store.store_url)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from starling.ads.campaign import ACTIVE, PAUSED, Campaign
from starling.engagements import EngagementKind, Engagements
from starling.eventlog.outbox import OutboxLog
from starling.events import FollowCreated
from starling.model import App, Block, Follow, Mute, Post, Relationship, Token
from starling.store.base import Conflict, Store
from tests.fixtures_store import StoreFactory
from tests.store_records import (
    THREADS,
    account,
    add_accounts,
    add_posts,
    follow,
    ids,
    post,
    race,
)

# Snowflake ids and millisecond times need all 64 bits.
BIG = 2**62 + 7


def test_accounts_round_trip_and_lookups(store: Store) -> None:
    big = account(BIG, username="Big", created_at=BIG, last_status_at=BIG, last_active_at=BIG)
    with store.transaction() as tx:
        tx.insert_account(big, None)
    assert store.get_accounts([BIG]) == {BIG: big}
    with store.transaction() as tx:
        tx.insert_account(account(1, username="Alice", bot=True, region="eu"), "hash-a")
        tx.insert_account(account(2), None)
    found = store.get_accounts(i for i in (1, 2, 3))
    assert set(found) == {1, 2}
    assert found[1] == account(1, username="Alice", bot=True, region="eu")
    assert store.get_account_by_username("aLICE") == found[1]
    assert store.get_account_by_username("nobody") is None
    assert store.get_password_hash(1) == "hash-a"
    assert store.get_password_hash(2) is None


def test_username_is_unique_regardless_of_case(store: Store) -> None:
    add_accounts(store, 1)
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.insert_account(account(2, username="USER1"), None)
    assert store.get_accounts([2]) == {}


def test_apps_and_tokens(store: Store) -> None:
    app = App(7, "cid", "secret-hash", "client", "urn:ietf:wg:oauth:2.0:oob", "read write")
    token = Token("token-hash", 7, None, "read", 5)
    with store.transaction() as tx:
        tx.insert_app(app)
        tx.insert_token(token)
    assert store.get_app("cid") == app
    assert store.get_app("other") is None
    assert store.get_app_by_id(7) == app
    assert store.get_app_by_id(8) is None
    assert store.get_token("token-hash") == token
    assert store.get_token("missing") is None
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.insert_app(App(8, "cid", "s", "dup", "", ""))


def test_insert_post_bumps_author_and_parent_counts(store: Store) -> None:
    add_accounts(store, 1, 2)
    original = post(10, 1, hashtags=("python", "sqlite"), mentions=(2,), sensitive=True)
    add_posts(store, original)
    assert store.get_posts([10])[10] == original
    add_posts(store, post(11, 2, reply_to_id=10, reply_to_account_id=1))
    accounts = store.get_accounts([1, 2])
    assert accounts[1].statuses_count == 1
    assert accounts[1].last_status_at == 10
    assert accounts[2].last_status_at == 11
    assert store.get_posts([10])[10].replies_count == 1


def test_tombstone_post_reverses_counts_once(store: Store) -> None:
    add_accounts(store, 1, 2)
    add_posts(store, post(10, 1), post(11, 2, reply_to_id=10, reply_to_account_id=1))
    with store.transaction() as tx:
        gone = tx.tombstone_post(11, 99)
        assert tx.tombstone_post(11, 100) is None
        assert tx.tombstone_post(12345, 100) is None
    assert gone is not None and gone.id == 11 and gone.deleted_at == 99
    assert store.get_posts([11])[11].deleted_at == 99
    assert store.get_accounts([2])[2].statuses_count == 0
    assert store.get_posts([10])[10].replies_count == 0


def test_failed_transaction_leaves_nothing(store: Store, log: OutboxLog) -> None:
    add_accounts(store, 1)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_post(post(10, 1))
        tx.emit(FollowCreated(1, 2, 10))
        raise RuntimeError("action failed after writing")
    assert store.get_posts([10]) == {}
    assert store.get_accounts([1])[1].statuses_count == 0
    assert log.last_offset() == 0


def test_on_commit_runs_only_after_commits_that_emitted(make_store: StoreFactory) -> None:
    calls: list[int] = []
    store = make_store()
    store.add_commit_listener(lambda: calls.append(1))
    add_accounts(store, 1)
    with store.transaction() as tx:
        tx.emit(FollowCreated(1, 2, 1))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.emit(FollowCreated(1, 2, 2))
        raise RuntimeError
    assert calls == [1]


def test_repost_twice_is_a_conflict(store: Store) -> None:
    add_accounts(store, 1, 2)
    add_posts(store, post(10, 1), post(11, 2, repost_of_id=10))
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.insert_post(post(12, 2, repost_of_id=10))
    assert [p.id for p in store.reposts_of([10], [1, 2])] == [11]


def test_concurrent_reposts_leave_exactly_one(store: Store) -> None:
    add_accounts(store, 1, 2)
    add_posts(store, post(10, 1))

    def repost(i: int) -> bool:
        try:
            with store.transaction() as tx:
                tx.insert_post(post(100 + i, 2, repost_of_id=10))
        except Conflict:
            return False
        return True

    assert race(repost).count(True) == 1
    assert store.repost_counts([10]) == {10: 1}
    assert store.get_accounts([2])[2].statuses_count == 1
    (live,) = store.reposts_of([10], [2])
    with store.transaction() as tx:
        tx.tombstone_post(live.id, 500)
    add_posts(store, post(200, 2, repost_of_id=10))
    assert store.repost_counts([10]) == {10: 1}
    assert store.get_accounts([2])[2].statuses_count == 1


def test_concurrent_likes_are_counted_exactly(store: Store) -> None:
    likers = range(1, 65)
    add_accounts(store, *likers)
    add_posts(store, post(1000, 1), post(1001, 1))

    def like(i: int) -> list[bool]:
        mine = [a for a in likers if a % THREADS == i]
        with store.transaction() as tx:
            results = [tx.insert_like(a, 1000, 1) for a in mine]
            return results + [tx.insert_like(a, 1000, 2) for a in mine]

    results = [r for batch in race(like) for r in batch]
    assert results.count(True) == len(likers)
    assert store.like_counts([1000, 1001]) == {1000: len(likers), 1001: 0}
    with store.transaction() as tx:
        assert tx.delete_like(1, 1000)
        assert not tx.delete_like(1, 1000)
    assert store.like_counts([1000]) == {1000: len(likers) - 1}


def test_follow_counts_stay_exact_under_concurrent_follow_and_unfollow(
    store: Store,
) -> None:
    target = 1
    fans = range(2, 2 + THREADS)
    add_accounts(store, target, *fans)

    def churn(i: int) -> None:
        fan = fans[i]
        for round_ in range(10):
            with store.transaction() as tx:
                tx.insert_follow(Follow(fan, target, round_))
                tx.insert_follow(Follow(fan, target, round_))
            if (round_ + i) % 3 == 0:
                with store.transaction() as tx:
                    tx.delete_follow(fan, target)

    race(churn)
    followers = ids(store.followers(target))
    accounts = store.get_accounts([target, *fans])
    assert accounts[target].followers_count == len(followers)
    for fan in fans:
        assert accounts[fan].following_count == (1 if fan in followers else 0)


def test_follow_and_unfollow_report_changes(store: Store) -> None:
    add_accounts(store, 1, 2)
    assert follow(store, 1, 2)
    assert not follow(store, 1, 2)
    with store.transaction() as tx:
        assert tx.delete_follow(1, 2)
        assert not tx.delete_follow(1, 2)
    accounts = store.get_accounts([1, 2])
    assert (accounts[1].following_count, accounts[2].followers_count) == (0, 0)


def test_account_counts_are_the_records_counts_in_id_order(store: Store) -> None:
    add_accounts(store, 1, 2, BIG)
    add_posts(store, post(10, 2), post(11, 2))
    assert follow(store, 1, 2) and follow(store, BIG, 2) and follow(store, 2, BIG)

    found = store.account_counts(i for i in (BIG, 3, 2, 1))

    accounts = store.get_accounts([1, 2, BIG])
    assert found.dtype == np.int64
    assert found.tolist() == [
        [a.id, a.followers_count, a.following_count, a.statuses_count]
        for a in (accounts[1], accounts[2], accounts[BIG])
    ]
    assert found[1].tolist() == [2, 2, 1, 2]
    assert store.account_counts([]).shape == (0, 4)


@pytest.fixture
def timeline(store: Store) -> Store:
    """Account 1 wrote posts 1..10: 3 is a repost, 4 a reply to 2, 5 a self-reply,
    6 is deleted and 7 unlisted."""
    add_accounts(store, 1, 2)
    add_posts(store, post(100, 2))
    add_posts(
        store,
        *(
            post(
                i,
                1,
                repost_of_id=100 if i == 3 else None,
                reply_to_id={4: 100, 5: 1}.get(i),
                reply_to_account_id={4: 2, 5: 1}.get(i),
                visibility="unlisted" if i == 7 else "public",
            )
            for i in range(1, 11)
        ),
    )
    with store.transaction() as tx:
        tx.tombstone_post(6, 50)
    return store


def page(posts: list[Post]) -> list[int]:
    return [p.id for p in posts]


def test_account_posts_paging(timeline: Store) -> None:
    s = timeline
    assert page(s.account_posts(1, limit=4)) == [10, 9, 8, 7]
    assert page(s.account_posts(1, max_id=7, limit=3)) == [5, 4, 3]
    assert page(s.account_posts(1, since_id=7, limit=2)) == [10, 9]
    assert page(s.account_posts(1, min_id=2, limit=3)) == [5, 4, 3]
    assert page(s.account_posts(1, min_id=2, max_id=5)) == [4, 3]
    assert page(s.account_posts(1, since_id=8)) == [10, 9]


def test_account_posts_filters(timeline: Store) -> None:
    assert 3 not in page(timeline.account_posts(1, exclude_reposts=True))
    without_replies = page(timeline.account_posts(1, exclude_replies=True))
    assert 4 not in without_replies
    assert 5 in without_replies


def test_public_posts_paging_and_visibility(timeline: Store) -> None:
    s = timeline
    assert page(s.public_posts()) == [100, 10, 9, 8, 5, 4, 2, 1]
    assert page(s.public_posts(max_id=9, limit=2)) == [8, 5]
    assert page(s.public_posts(min_id=2, limit=2)) == [5, 4]
    assert page(s.public_posts(since_id=8, limit=1)) == [100]


def test_latest_posts_by_authors(timeline: Store) -> None:
    assert page(timeline.latest_posts_by_authors([1, 2], 2)) == [100, 10, 9]
    assert page(timeline.latest_posts_by_authors([1], 3, max_id=8)) == [7, 5, 4]
    assert timeline.latest_posts_by_authors([], 3) == []


def test_post_ids_counts_and_max_id(store: Store) -> None:
    assert store.max_post_id() == 0
    add_accounts(store, 1, 2)
    add_posts(store, post(1, 1), post(2, 2), post(3, 1), post(4, 1))
    with store.transaction() as tx:
        tx.tombstone_post(3, 9)
    assert ids(store.post_ids_by_authors([1, 2], since_id=1)) == [2, 3, 4]
    assert store.post_ids_by_authors([1], since_id=1).dtype == np.int64
    assert store.count_posts_since(1, since_id=0) == 3
    assert store.count_posts_since(1, since_id=3) == 1
    assert store.max_post_id() == 4


@pytest.fixture
def graph(store: Store) -> Store:
    """Accounts 2..41 follow 1; even ones were active at 100, odd ones at 0; 3 and 5
    notify. Account 1 follows 2 and 3."""
    add_accounts(store, *range(1, 42))
    for fan in range(2, 42):
        follow(store, fan, 1, at=fan, notify=fan in (3, 5))
    follow(store, 1, 2, at=10)
    follow(store, 1, 3, at=20, notify=True)
    with store.transaction() as tx:
        for fan in range(2, 42, 2):
            tx.set_last_active(fan, 100)
    return store


def test_followers_and_following(graph: Store) -> None:
    assert ids(graph.followers(1)) == list(range(2, 42))
    assert graph.followers(1).dtype == np.int64
    assert ids(graph.followers(1, active_since=100)) == list(range(2, 42, 2))
    assert ids(graph.followers(1, active_since=101)) == []
    assert ids(graph.following(1)) == [2, 3]
    assert ids(graph.notify_followers(1, limit=10)) == [3, 5]
    assert len(graph.notify_followers(1, limit=1)) == 1
    assert graph.follows_since(1, 15) == [3]


@pytest.mark.parametrize(("chunk", "active_since"), [(7, None), (40, None), (3, 100), (1, None)])
def test_iter_follower_chunks_covers_each_follower_once(
    graph: Store, chunk: int, active_since: int | None
) -> None:
    chunks = list(graph.iter_follower_chunks(1, chunk, active_since=active_since))
    assert all(0 < len(c) <= chunk for c in chunks)
    flat = [int(i) for c in chunks for i in c]
    assert sorted(flat) == ids(graph.followers(1, active_since=active_since))
    assert len(flat) == len(set(flat))


@pytest.mark.parametrize("chunk", [1, 5, 100])
def test_iter_follows_covers_each_edge_once(graph: Store, chunk: int) -> None:
    chunks = list(graph.iter_follows(chunk))
    assert all(0 < len(f) == len(g) <= chunk for f, g in chunks)
    edges = [(int(f), int(g)) for fs, gs in chunks for f, g in zip(fs, gs, strict=True)]
    expected = [(fan, 1) for fan in range(2, 42)] + [(1, 2), (1, 3)]
    assert sorted(edges) == sorted(expected)
    assert len(edges) == len(set(edges))


def test_relationships(graph: Store) -> None:
    rels = {r.id: r for r in graph.relationships(1, [2, 3, 4, 99])}
    assert (rels[2].following, rels[2].followed_by, rels[2].notifying) == (True, True, False)
    assert (rels[3].following, rels[3].followed_by, rels[3].notifying) == (True, True, True)
    assert (rels[4].following, rels[4].followed_by) == (False, True)
    assert (rels[99].following, rels[99].followed_by) == (False, False)


FUTURE = 2**62  # a mute expiring after every test's "now"


@pytest.fixture
def blocked(graph: Store) -> Store:
    """Over the graph: 1 blocks 4 and 6, 5 blocks 1, 1 mutes 2 (notifications too) and 7
    (not them), and muted 8 until time 1 (expired)."""
    with graph.transaction() as tx:
        for block_id, (account, target) in enumerate(((1, 4), (5, 1), (1, 6)), start=100):
            assert tx.insert_block(Block(account, target, block_id))
        assert tx.insert_mute(Mute(1, 2, 200, notifications=True), now=0)
        assert tx.insert_mute(Mute(1, 7, 201, notifications=False, expires_at=FUTURE), now=0)
        assert tx.insert_mute(Mute(1, 8, 202, expires_at=1), now=0)
    return graph


def test_relationships_show_blocks_and_unexpired_mutes(blocked: Store) -> None:
    rels = {r.id: r for r in blocked.relationships(1, [2, 4, 5, 6, 7, 8, 9])}
    assert (rels[4].blocking, rels[4].blocked_by, rels[4].followed_by) == (True, False, True)
    assert (rels[5].blocking, rels[5].blocked_by) == (False, True)
    assert (rels[2].muting, rels[2].muting_notifications, rels[2].following) == (True, True, True)
    assert (rels[7].muting, rels[7].muting_notifications) == (True, False)
    assert rels[8].muting is False  # expired
    assert rels[9] == Relationship(9, followed_by=True)
    seen_by_4 = blocked.relationships(4, [1])[0]
    assert (seen_by_4.blocking, seen_by_4.blocked_by, seen_by_4.muting) == (False, True, False)


def test_hidden_authors_is_blocks_both_ways_and_unexpired_mutes(blocked: Store) -> None:
    assert blocked.hidden_authors(1, [2, 3, 4, 5, 6, 7, 8, 99]) == {2, 4, 5, 6, 7}
    assert blocked.hidden_authors(1, []) == set()
    assert blocked.hidden_authors(4, [1, 2]) == {1}  # blocked by 1
    assert blocked.hidden_authors(2, [1]) == set()  # a mute hides only from the muter


def test_block_and_mute_lists_page_newest_first(blocked: Store) -> None:
    assert [b.target_id for b in blocked.blocks(1)] == [6, 4]
    assert blocked.blocks(1, limit=1) == [Block(1, 6, 102)]
    assert blocked.blocks(1, max_id=102) == [Block(1, 4, 100)]
    assert blocked.blocks(1, since_id=100) == [Block(1, 6, 102)]
    assert blocked.blocks(1, min_id=0, limit=1) == [Block(1, 4, 100)]
    assert blocked.blocks(4) == []
    assert blocked.mutes(1) == [
        Mute(1, 7, 201, notifications=False, expires_at=FUTURE),
        Mute(1, 2, 200, notifications=True),
    ]  # the expired mute of 8 is not listed
    assert [m.target_id for m in blocked.mutes(1, max_id=201)] == [2]


def test_block_and_mute_writes_report_changes(blocked: Store) -> None:
    with blocked.transaction() as tx:
        assert not tx.insert_block(Block(1, 4, 300))  # already blocking: keeps its id
        assert tx.delete_block(1, 4)
        assert not tx.delete_block(1, 4)
        # Muting again updates the settings in place; an expired mute is replaced whole.
        assert tx.insert_mute(Mute(1, 2, 301, notifications=False, expires_at=FUTURE), 5)
        assert not tx.insert_mute(Mute(1, 2, 304, notifications=False, expires_at=FUTURE), 5)
        assert tx.insert_mute(Mute(1, 7, 305, notifications=False), 5)
        assert tx.insert_mute(Mute(1, 8, 302), now=5)
        assert tx.delete_mute(1, 7, now=5)
        assert not tx.delete_mute(1, 7, now=5)
        assert tx.insert_mute(Mute(1, 9, 303, expires_at=10), now=5)
        assert not tx.delete_mute(1, 9, now=10)  # already expired
    assert [b.target_id for b in blocked.blocks(1)] == [6]
    assert blocked.mutes(1) == [
        Mute(1, 8, 302),
        Mute(1, 2, 200, notifications=False, expires_at=FUTURE),
    ]


def test_set_last_active_never_moves_back(store: Store) -> None:
    add_accounts(store, 1)
    with store.transaction() as tx:
        tx.set_last_active(1, 200)
        tx.set_last_active(1, 100)
    assert store.get_accounts([1])[1].last_active_at == 200


@pytest.fixture
def engaged(store: Store) -> Store:
    """Viewer 1 liked 10 and 11 (by 2) and 20 (by 3), and reposted 11 (live) and 20
    (deleted). Account 4 reposted 11 too."""
    add_accounts(store, 1, 2, 3, 4)
    add_posts(store, post(10, 2), post(11, 2), post(20, 3))
    add_posts(store, post(30, 1, repost_of_id=11), post(31, 1, repost_of_id=20))
    add_posts(store, post(32, 4, repost_of_id=11))
    with store.transaction() as tx:
        for p in (10, 11, 20):
            tx.insert_like(1, p, 5)
        tx.tombstone_post(31, 40)
    return store


def test_viewer_state(engaged: Store) -> None:
    state = engaged.viewer_state(1, [10, 11, 20, 99])
    assert state.liked == {10, 11, 20}
    assert state.reposted == {11}
    assert engaged.viewer_state(4, [10, 11]).reposted == {11}


def test_reposts_of_and_repost_counts(engaged: Store) -> None:
    assert page(engaged.reposts_of([11, 20], [1, 4])) == [32, 30]
    assert page(engaged.reposts_of([11], [4, 3])) == [32]
    assert engaged.reposts_of([20], [1]) == []
    assert engaged.repost_counts([11, 20, 10]) == {11: 2, 20: 0, 10: 0}


def test_engagement_counts(engaged: Store) -> None:
    assert engaged.engagement_counts(1, [2, 3, 4]) == {2: 3, 3: 1, 4: 0}


def test_set_post_counts(store: Store) -> None:
    add_accounts(store, 1)
    add_posts(store, post(10, 1), post(11, 1))
    with store.transaction() as tx:
        tx.set_post_counts(iter([(10, 5, 2), (11, 0, 7)]))
    found = store.get_posts([10, 11])
    assert (found[10].favourites_count, found[10].reblogs_count) == (5, 2)
    assert (found[11].favourites_count, found[11].reblogs_count) == (0, 7)


def test_get_many_ids_in_one_call(store: Store) -> None:
    n = 2_500
    store.bulk_load(accounts=[account(i) for i in range(n)])
    store.bulk_load(posts=[post(i, i) for i in range(n)])
    assert len(store.get_accounts(range(n))) == n
    assert len(store.get_posts(np.arange(n, dtype=np.int64))) == n


def test_bulk_load_inserts_rows_as_given_without_events(store: Store, log: OutboxLog) -> None:
    store.bulk_load(
        accounts=[account(1, followers_count=1), account(2, following_count=1, statuses_count=1)],
        posts=[post(10, 2, hashtags=("a",))],
        follows=[Follow(2, 1, 3, notify=True)],
        likes=[(1, 10, 4)],
    )
    assert store.get_accounts([1])[1].followers_count == 1
    assert store.get_posts([10])[10].hashtags == ("a",)
    assert ids(store.notify_followers(1, 5)) == [2]
    assert store.like_counts([10]) == {10: 1}
    assert log.last_offset() == 0


def test_bulk_load_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(Conflict):
        store.bulk_load(accounts=[account(1), account(2, username="USER1")])
    assert store.get_accounts([1, 2]) == {}


def test_store_survives_reopen(make_store: StoreFactory) -> None:
    first = make_store()
    add_accounts(first, 1)
    first.close()
    assert set(make_store().get_accounts([1])) == {1}


def test_two_stores_on_one_backend_see_each_others_commits(make_store: StoreFactory) -> None:
    first, second = make_store(), make_store()
    add_accounts(first, 1)
    assert set(second.get_accounts([1])) == {1}


@pytest.fixture
def history(store: Store) -> Store:
    """Posts 1..9 by accounts 1 and 2; 4 and 7 are deleted."""
    add_accounts(store, 1, 2)
    add_posts(store, *(post(i, 1 + i % 2) for i in range(1, 10)))
    with store.transaction() as tx:
        tx.tombstone_post(4, 40)
        tx.tombstone_post(7, 70)
    return store


@pytest.mark.parametrize("chunk", [1, 2, 4, 9, 100])
def test_iter_posts_scans_live_and_deleted_posts_in_id_order(history: Store, chunk: int) -> None:
    chunks = list(history.iter_posts(0, chunk))
    assert all(0 < len(c) <= chunk for c in chunks)
    flat = [p for c in chunks for p in c]
    assert [p.id for p in flat] == list(range(1, 10))
    assert {p.id: p.deleted_at for p in flat if p.deleted_at is not None} == {4: 40, 7: 70}
    assert flat == [history.get_posts([p.id])[p.id] for p in flat]


def test_iter_posts_starts_after_the_given_id(history: Store) -> None:
    assert [p.id for c in history.iter_posts(6, 2) for p in c] == [7, 8, 9]
    assert list(history.iter_posts(9, 2)) == []


@pytest.fixture
def engagements(store: Store) -> Store:
    """Likes (at 5, 50, 60, and one of a deleted post), a repost at 30 and an open reply
    at 40; a deleted repost, a direct reply and a reply to a deleted post are left out."""
    add_accounts(store, 1, 2, 3, 4)
    add_posts(store, post(10, 2), post(11, 2), post(12, 2), post(20, 3))
    add_posts(store, post(30, 1, repost_of_id=11), post(31, 1, repost_of_id=20))
    add_posts(store, post(40, 4, reply_to_id=10, reply_to_account_id=2))
    add_posts(store, post(41, 4, reply_to_id=20, reply_to_account_id=3, visibility="direct"))
    add_posts(store, post(42, 3, reply_to_id=12, reply_to_account_id=2))
    with store.transaction() as tx:
        tx.insert_like(1, 10, 5)
        tx.insert_like(1, 20, 50)
        tx.insert_like(4, 11, 60)
        tx.insert_like(3, 12, 70)
        tx.tombstone_post(31, 80)
        tx.tombstone_post(12, 90)
    return store


LIKE, REPOST, REPLY = (int(kind) for kind in EngagementKind)
ENGAGEMENTS = [
    (1, 10, 2, LIKE, 5),
    (1, 20, 3, LIKE, 50),
    (4, 11, 2, LIKE, 60),
    (1, 11, 2, REPOST, 30),
    (4, 10, 2, REPLY, 40),
]


def engagement_rows(chunks: list[Engagements]) -> list[tuple[int, ...]]:
    return [tuple(map(int, row)) for c in chunks for row in zip(*c.columns(), strict=True)]


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_iter_engagements_scans_likes_then_reposts_and_open_replies(
    engagements: Store, chunk: int
) -> None:
    chunks = list(engagements.iter_engagements(0, chunk))
    assert all(0 < c.size <= chunk for c in chunks)
    assert engagement_rows(chunks) == ENGAGEMENTS


def test_iter_engagements_starts_at_the_given_time(engagements: Store) -> None:
    since_30 = [row for row in ENGAGEMENTS if row[4] >= 30]
    assert engagement_rows(list(engagements.iter_engagements(30, 2))) == since_30
    assert list(engagements.iter_engagements(61, 2)) == []


def test_campaigns_round_trip_and_status_changes(store: Store) -> None:
    add_accounts(store, 1)
    add_posts(store, post(10, 1))
    first = Campaign(BIG, 1, 10, 500, 250, BIG, BIG + 1, regions=("us", "de"), created_at=BIG)
    second = Campaign(BIG + 1, 1, 10, 100, 80, 0, 1000, status=PAUSED, interests=("cats",))
    with store.transaction() as tx:
        tx.insert_campaign(first)
        tx.insert_campaign(second)
    assert store.get_campaigns([BIG, BIG + 1, 3]) == {BIG: first, BIG + 1: second}
    assert store.campaigns() == [second, first]
    assert store.campaigns(status=ACTIVE) == [first]
    assert store.campaigns(ending_after=1000) == [first]
    with store.transaction() as tx:
        assert tx.update_campaign_status(BIG, PAUSED, [PAUSED]) is None  # not paused
        assert tx.update_campaign_status(7, ACTIVE, [PAUSED]) is None  # missing
        resumed = tx.update_campaign_status(BIG + 1, ACTIVE, [PAUSED])
    assert resumed == replace(second, status=ACTIVE)
    assert store.get_campaigns([BIG + 1]) == {BIG + 1: resumed}


def test_campaign_spend_adds_up_in_one_statement_per_page(store: Store) -> None:
    add_accounts(store, 1)
    add_posts(store, post(10, 1))
    with store.transaction() as tx:
        tx.insert_campaign(Campaign(BIG, 1, 10, 500, 250, 0, BIG))
        tx.insert_campaign(Campaign(BIG + 1, 1, 10, 100, 80, 0, BIG))
    assert store.campaign_spend([BIG, BIG + 1, 3]) == {BIG: 0, BIG + 1: 0}
    with store.transaction() as tx:
        tx.add_campaign_spend([(BIG, 250), (BIG + 1, 80), (3, 5)])  # 3: no such campaign
    with store.transaction() as tx:
        tx.add_campaign_spend([(BIG, 250)])
        tx.add_campaign_spend([])
    assert store.campaign_spend([BIG, BIG + 1]) == {BIG: 500, BIG + 1: 80}
    assert store.campaign_spend([]) == {}
    assert store.get_campaigns([BIG])[BIG].budget_cents == 500  # the record is unchanged


def test_recent_hashtags_of_own_posts_reposts_and_likes(store: Store) -> None:
    add_accounts(store, 1, 2)
    add_posts(
        store,
        post(10, 2, hashtags=("cats", "dogs")),
        post(11, 2, hashtags=("birds",)),
        post(12, 2, hashtags=("fish",)),
        post(13, 2, hashtags=("gone",), deleted_at=5),
        post(20, 1, hashtags=("mine",)),
        post(21, 1, repost_of_id=12),
        post(22, 1),
    )
    with store.transaction() as tx:
        tx.insert_like(1, 10, 100)
        tx.insert_like(1, 11, 50)  # the oldest like: left out at limit 2
        tx.insert_like(1, 13, 200)
    assert store.recent_hashtags(1, 3) == {"mine", "fish", "cats", "dogs", "birds"}
    assert store.recent_hashtags(1, 2) == {"fish", "cats", "dogs"}  # 22, 21; likes 13, 10
    assert store.recent_hashtags(2, 10) == {"cats", "dogs", "birds", "fish"}
    assert store.recent_hashtags(3, 10) == set()
