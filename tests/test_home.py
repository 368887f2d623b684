"""The Following timeline: read-time merge, read-your-writes, repost dedup, rebuilds."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace

from starling.home import HomeTimeline
from starling.ids import id_at, now_ms
from starling.model import Account, Follow, Post
from starling.runtime import Runtime
from tests.counting import Counting
from tests.fixtures_runtime import RuntimeFactory, home_sources_from_store

Accounts = Callable[[int], list[Account]]


def _ids(posts: list[Post]) -> list[int]:
    return [p.id for p in posts]


def test_read_your_writes_after_follow_before_any_worker_runs(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(mode="none")
    viewer = runtime.actions.register("viewer", None)
    author = runtime.actions.register("author", None)
    runtime.home.read(viewer.id)
    older = runtime.actions.post(author.id, "before the follow")
    runtime.actions.follow(viewer.id, author.id)
    assert _ids(runtime.home.read(viewer.id)) == [older.id]


def test_unfollow_hides_posts_at_once(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    viewer = runtime.actions.register("viewer", None)
    author = runtime.actions.register("author", None)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    post = runtime.actions.post(author.id, "soon gone")
    assert _ids(runtime.home.read(viewer.id)) == [post.id]
    runtime.actions.unfollow(viewer.id, author.id)
    assert runtime.home.read(viewer.id) == []
    assert post.id not in (runtime.cache.timelines.range(viewer.id, limit=10) or [])


def test_follow_merges_recent_posts_into_the_cached_timeline(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, author = accounts(2)
    runtime.home.read(viewer.id)
    posts = [runtime.actions.post(author.id, f"p{i}") for i in range(3)]
    runtime.actions.follow(viewer.id, author.id)
    assert runtime.cache.timelines.range(viewer.id, limit=10) == _ids(posts)[::-1]


def test_deleted_posts_disappear(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    keep = runtime.actions.post(author.id, "keep")
    gone = runtime.actions.post(author.id, "gone")
    runtime.actions.delete(author.id, gone.id)
    assert _ids(runtime.home.read(viewer.id)) == [keep.id]


def test_reposts_deduplicated_with_best_reposter(runtime: Runtime, accounts: Accounts) -> None:
    viewer, stranger, plain, mutual, engaged = accounts(5)
    for account in (plain, mutual, engaged):
        runtime.actions.follow(viewer.id, account.id)
    runtime.home.read(viewer.id)
    source = runtime.actions.post(stranger.id, "viral")
    runtime.actions.repost(plain.id, source.id)
    runtime.actions.repost(engaged.id, source.id)
    engaged_post = runtime.actions.post(engaged.id, "something to like")
    runtime.actions.like(viewer.id, engaged_post.id)
    page = runtime.home.read(viewer.id)
    reposts = [p for p in page if p.repost_of_id == source.id]
    assert len(reposts) == 1 and reposts[0].author_id == engaged.id  # engagement wins
    runtime.actions.repost(mutual.id, source.id)
    runtime.actions.follow(mutual.id, viewer.id)
    page = runtime.home.read(viewer.id)
    reposts = [p for p in page if p.repost_of_id == source.id]
    assert len(reposts) == 1 and reposts[0].author_id == mutual.id  # mutual follow wins


def test_repost_of_followed_original_shows_the_original(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, author, reposter = accounts(3)
    runtime.actions.follow(viewer.id, author.id)
    runtime.actions.follow(viewer.id, reposter.id)
    runtime.home.read(viewer.id)
    original = runtime.actions.post(author.id, "original")
    runtime.actions.repost(reposter.id, original.id)
    assert _ids(runtime.home.read(viewer.id)) == [original.id]


def test_paging_by_max_since_and_min_id(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    ids = [runtime.actions.post(author.id, f"p{i}").id for i in range(10)][::-1]
    assert _ids(runtime.home.read(viewer.id, limit=3)) == ids[:3]
    assert _ids(runtime.home.read(viewer.id, max_id=ids[2], limit=3)) == ids[3:6]
    assert _ids(runtime.home.read(viewer.id, since_id=ids[4], limit=3)) == ids[:3]
    assert _ids(runtime.home.read(viewer.id, min_id=ids[4], limit=3)) == ids[1:4]


def test_cached_timeline_equals_one_computed_from_the_store(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(celebrity_threshold=4)
    rng = random.Random(7)
    people = [runtime.actions.register(f"u{i}", None) for i in range(12)]
    for person in people:
        runtime.home.read(person.id)
    posts: list[Post] = []
    for _ in range(200):
        actor, other = rng.sample(people, 2)
        roll = rng.random()
        if roll < 0.3:
            runtime.actions.follow(actor.id, other.id)
        elif roll < 0.4:
            runtime.actions.unfollow(actor.id, other.id)
        elif roll < 0.8 or not posts:
            posts.append(runtime.actions.post(actor.id, f"post {len(posts)}"))
        else:
            runtime.actions.repost(actor.id, rng.choice(posts).source_id)
    for viewer in people:
        page = runtime.home.read(viewer.id, limit=500)
        sources = [p.source_id for p in page]
        assert len(sources) == len(set(sources))  # one entry per source post
        assert _ids(page) == sorted(_ids(page), reverse=True)
        assert set(sources) == home_sources_from_store(runtime, viewer.id)


def test_store_calls_per_read_are_pinned(runtime: Runtime, accounts: Accounts) -> None:
    viewer, *authors = accounts(30)
    for author in authors:
        runtime.actions.follow(viewer.id, author.id)
    for author in authors:
        runtime.actions.post(author.id, f"from {author.username}")
    runtime.home.read(viewer.id)
    store = Counting(runtime.store)
    home = HomeTimeline(store, runtime.cache, runtime.activity, runtime.settings)
    store.reset()
    assert len(home.read(viewer.id, limit=20)) == 20
    # Whatever the page size: the follow set, the follows of the last five minutes, their
    # posts (read-your-writes; all 29 follows are that recent here), one hydration and
    # one read of the blocked and muted among the page's authors.
    assert store.calls == {
        "following": 1,
        "follows_since": 1,
        "latest_posts_by_authors": 1,
        "get_posts": 1,
        "hidden_authors": 1,
    }


def test_store_calls_per_read_without_recent_follows(runtime: Runtime) -> None:
    long_ago = now_ms() - 24 * 3600 * 1000
    people = [
        Account(id=id_at(long_ago, i), username=f"p{i}", display_name="", created_at=long_ago)
        for i in range(30)
    ]
    viewer, *authors = people
    runtime.store.bulk_load(
        accounts=people, follows=[Follow(viewer.id, a.id, long_ago) for a in authors]
    )
    for author in authors:
        runtime.actions.post(author.id, "steady state")
    runtime.home.read(viewer.id)
    store = Counting(runtime.store)
    home = HomeTimeline(store, runtime.cache, runtime.activity, runtime.settings)
    assert len(home.read(viewer.id, limit=20)) == 20
    assert store.calls == {
        "following": 1,
        "follows_since": 1,
        "get_posts": 1,
        "hidden_authors": 1,
    }


def test_a_page_with_a_repost_reads_its_original_once(runtime: Runtime, accounts: Accounts) -> None:
    viewer, reposter, stranger = accounts(3)
    runtime.actions.follow(viewer.id, reposter.id)
    original = runtime.actions.post(stranger.id, "not followed, reposted")
    repost = runtime.actions.repost(reposter.id, original.id)
    runtime.home.read(viewer.id)
    store = Counting(runtime.store)
    home = HomeTimeline(store, runtime.cache, runtime.activity, runtime.settings)
    assert _ids(home.read(viewer.id)) == [repost.id]
    # The candidates, then the original (not on the page) once for every filter.
    assert store.calls["get_posts"] == 2


def test_a_read_hydrates_a_bounded_number_of_posts(make_runtime: RuntimeFactory) -> None:
    # Every author is pulled (a celebrity) and newly followed: each adds 20 candidates.
    runtime = make_runtime(celebrity_threshold=1)
    viewer = runtime.actions.register("viewer", None)
    authors = [runtime.actions.register(f"author{i}", None) for i in range(5)]
    for author in authors:
        runtime.actions.follow(viewer.id, author.id)
    posts = [runtime.actions.post(a.id, f"post {i}") for i in range(30) for a in authors]
    runtime.home.read(viewer.id)
    hydrated: list[int] = []

    class CountingIds(Counting):
        def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
            wanted = list(ids)
            hydrated.append(len(wanted))
            return runtime.store.get_posts(wanted)

    home = HomeTimeline(
        CountingIds(runtime.store), runtime.cache, runtime.activity, runtime.settings
    )
    page = home.read(viewer.id, limit=20)
    assert _ids(page) == sorted(_ids(posts), reverse=True)[:20]
    # 5 celebrities and 5 recent follows offer 100 candidates; the over-fetch (2 x 20 + 20)
    # bounds what is read from the store.
    assert hydrated == [60]


def test_a_warm_read_is_one_timeline_round_trip(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.actions.follow(viewer.id, author.id)
    post = runtime.actions.post(author.id, "hi")
    runtime.home.read(viewer.id)  # builds the timeline and marks the viewer active
    timelines = Counting(runtime.cache.timelines)
    cache = replace(runtime.cache, timelines=timelines)
    home = HomeTimeline(runtime.store, cache, runtime.activity, runtime.settings)
    assert _ids(home.read(viewer.id)) == [post.id]
    assert timelines.calls == {"range": 1}
    runtime.cache.timelines.delete([viewer.id])  # evicted: rebuilt on the next read
    timelines.reset()
    assert _ids(home.read(viewer.id)) == [post.id]
    assert timelines.calls["replace"] == 1


def test_rebuild_is_single_flight(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.actions.follow(viewer.id, author.id)
    post = runtime.actions.post(author.id, "hi")
    runtime.cache.timelines.delete([viewer.id])
    barrier = threading.Barrier(16)
    pages: list[list[int]] = []

    def read() -> None:
        barrier.wait()
        pages.append(_ids(runtime.home.read(viewer.id)))

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runtime.home.rebuilds == 1
    assert pages == [[post.id]] * 16


def test_direct_post_reaches_a_viewer_who_does_not_follow_the_sender(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, sender, bystander = accounts(3)
    for account in (viewer, bystander):
        runtime.home.read(account.id)
    direct = runtime.actions.post(sender.id, f"psst @{viewer.username}", visibility="direct")
    assert _ids(runtime.home.read(viewer.id)) == [direct.id]
    assert runtime.home.read(bystander.id) == []


def test_following_a_once_pulled_author_merges_all_recent_posts(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(celebrity_threshold=1)
    author = runtime.actions.register("author", None)
    fan = runtime.actions.register("fan", None)
    runtime.actions.follow(fan.id, author.id)
    pulled = runtime.actions.post(author.id, "while pulled")  # one follower: a celebrity
    runtime.actions.unfollow(fan.id, author.id)
    pushed = runtime.actions.post(author.id, "pushed again")  # no followers: pushed
    viewer = runtime.actions.register("viewer", None)
    runtime.home.read(viewer.id)
    runtime.actions.follow(viewer.id, author.id)
    cached = runtime.cache.timelines.range(viewer.id, limit=10)
    assert cached == [pushed.id, pulled.id]


def test_post_fanned_out_during_a_rebuild_is_not_lost(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.actions.follow(viewer.id, author.id)
    store = runtime.store
    racing: list[Post] = []

    class PostsWhileRebuilding(Counting):
        """Posts (and, in sync mode, fans out) right after the rebuild's read."""

        def latest_posts_by_authors(self, *args: object, **kwargs: object) -> list[Post]:
            found: list[Post] = store.latest_posts_by_authors(*args, **kwargs)  # type: ignore[arg-type]
            racing.append(runtime.actions.post(author.id, "during the rebuild"))
            return found

    home = HomeTimeline(
        PostsWhileRebuilding(store), runtime.cache, runtime.activity, runtime.settings
    )
    assert not runtime.cache.timelines.exists(viewer.id)
    home._rebuild(viewer.id, store.following(viewer.id))
    assert runtime.cache.timelines.range(viewer.id, limit=10) == [racing[0].id]
