"""Hybrid fan-out: who gets pushed, who gets pulled, and the dynamic threshold."""

from __future__ import annotations

from collections.abc import Callable

from starling import metrics
from starling.events import PostCreated
from starling.fanout_policy import FanoutFlags
from starling.ids import now_ms
from starling.model import Account, Post
from starling.runtime import Runtime
from tests.counting import Counting
from tests.fixtures_runtime import RuntimeFactory

Accounts = Callable[[int], list[Account]]


def _home_ids(runtime: Runtime, viewer: Account) -> list[int]:
    return [p.id for p in runtime.home.read(viewer.id, limit=40)]


def _follow_all(runtime: Runtime, followers: list[Account], author: Account) -> None:
    for follower in followers:
        runtime.actions.follow(follower.id, author.id)
        runtime.home.read(follower.id)  # builds the timeline: the follower is active


def test_small_author_is_pushed_to_each_active_follower(
    runtime: Runtime, accounts: Accounts
) -> None:
    author, *followers = accounts(4)
    _follow_all(runtime, followers, author)
    post = runtime.actions.post(author.id, "hello")
    for follower in followers:
        assert runtime.cache.timelines.range(follower.id, limit=10) == [post.id]
    assert runtime.cache.timelines.range(author.id, limit=10) in (None, [post.id])


def test_fanout_reports_writes_per_post(runtime: Runtime, accounts: Accounts) -> None:
    author, *followers = accounts(6)
    _follow_all(runtime, followers, author)
    post = Post(id=99, author_id=author.id, text="", created_at=now_ms())
    fanned = runtime.fanout.fan_out(
        PostCreated.of(post, author, None),
        followers_count=5,
        threshold=runtime.policy.current(),
    )
    assert not fanned.pulled
    assert fanned.timeline_writes == 5  # the author's own timeline does not exist yet


def test_inactive_followers_are_skipped_then_rebuilt_on_read(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(active_days=-1.0)  # the activity window ends in the future
    author = runtime.actions.register("author", None)
    follower = runtime.actions.register("follower", None)
    runtime.actions.follow(follower.id, author.id)
    runtime.cache.timelines.replace(follower.id, [])
    before = metrics.FANOUT_TIMELINE_WRITES._value.get()
    post = runtime.actions.post(author.id, "while you were away")
    assert metrics.FANOUT_TIMELINE_WRITES._value.get() == before  # no push at all
    assert runtime.cache.timelines.range(follower.id, limit=10) == []
    assert _home_ids(runtime, follower) == [post.id]  # stale timeline rebuilt on read


def test_celebrity_posts_are_indexed_not_pushed(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(celebrity_threshold=3)
    celeb = runtime.actions.register("celeb", None)
    fans = [runtime.actions.register(f"fan{i}", None) for i in range(4)]
    _follow_all(runtime, fans[:3], celeb)
    runtime.actions.follow(fans[3].id, celeb.id, notify=True)
    runtime.home.read(fans[3].id)
    post = runtime.actions.post(celeb.id, "big news")
    # Only the follower with notifications on got a push ...
    assert runtime.cache.timelines.range(fans[0].id, limit=10) == []
    assert runtime.cache.timelines.range(fans[3].id, limit=10) == [post.id]
    assert list(runtime.cache.celebrities.latest([celeb.id], 20)) == [post.id]
    # ... and everyone sees it through the read-time merge.
    for fan in fans:
        assert _home_ids(runtime, fan) == [post.id]


def test_threshold_follows_load_news_and_capacity(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(fanout_backlog_limit=2)
    policy = runtime.policy
    assert policy.current() == 100_000
    runtime.flags.write(FanoutFlags(capacity_raised=True))
    assert policy.current() == 200_000
    runtime.flags.write(FanoutFlags(breaking_news=True, capacity_raised=True))
    assert policy.current() == 25_000
    assert metrics.CELEBRITY_THRESHOLD._value.get() == 25_000
    runtime.flags.write(FanoutFlags())
    policy.backlog = lambda: 3
    assert policy.current() == 50_000


def test_fast_poster_over_half_threshold_is_pulled_temporarily(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(celebrity_threshold=4, mode="none")
    author = runtime.actions.register("fast", None)
    fans = [runtime.actions.register(f"fan{i}", None) for i in range(3)]
    for fan in fans:
        runtime.actions.follow(fan.id, author.id)
    posts = [runtime.actions.post(author.id, f"post {i}") for i in range(12)]
    slow = runtime.actions.register("slow", None)
    assert runtime.policy.is_celebrity(3, 4, lambda: 11)
    assert not runtime.policy.is_celebrity(2, 4, lambda: 11)  # not over half the threshold
    assert not runtime.policy.is_celebrity(3, 4, lambda: 10)
    runtime.drain()
    assert runtime.cache.celebrities.celebrities_among([author.id, slow.id]).tolist() == [author.id]
    assert set(runtime.cache.celebrities.latest([author.id], 20).tolist()) >= {
        p.id for p in posts[-1:]
    }


def test_repost_not_pushed_where_original_is_present(runtime: Runtime, accounts: Accounts) -> None:
    author, reposter, viewer = accounts(3)
    _follow_all(runtime, [viewer], author)
    _follow_all(runtime, [viewer], reposter)
    original = runtime.actions.post(author.id, "original")
    repost = runtime.actions.repost(reposter.id, original.id)
    assert runtime.cache.timelines.range(viewer.id, limit=10) == [original.id]
    assert repost.id not in (runtime.cache.timelines.range(viewer.id, limit=10) or [])
    assert _home_ids(runtime, viewer) == [original.id]


def test_metrics_are_exposed(runtime: Runtime, accounts: Accounts) -> None:
    author, follower = accounts(2)
    _follow_all(runtime, [follower], author)
    runtime.actions.post(author.id, "measured")
    names = {m.name for m in metrics.REGISTRY.collect()}
    assert {
        "starling_fanout_timeline_writes",
        "starling_worker_backlog",
        "starling_celebrity_threshold",
        "starling_post_to_timeline_seconds",
        "starling_timeline_read_seconds",
    } <= names
    assert metrics.WORKER_BACKLOG.labels("fanout")._value.get() == 0


def test_a_batch_costs_one_account_read_and_one_follower_scan_per_post(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(mode="none", fanout_chunk=2)
    authors = [runtime.actions.register(f"author{i}", None) for i in range(3)]
    fans = [runtime.actions.register(f"fan{i}", None) for i in range(5)]
    for fan in fans:
        runtime.home.read(fan.id)
        for author in authors:
            runtime.actions.follow(fan.id, author.id)
    for author in authors:
        for i in range(4):
            runtime.actions.post(author.id, f"post {i}")
    runtime.fanout.drain()  # the follows and registrations, not counted
    store, log, timelines = (
        Counting(runtime.store),
        Counting(runtime.log),
        Counting(runtime.cache.timelines),
    )
    runtime.fanout.store = store
    runtime.fanout.log = log
    runtime.cache.timelines = timelines
    for author in authors:
        for i in range(4):
            runtime.actions.post(author.id, f"counted {i}")
    assert runtime.fanout.run_once() == 12
    assert store.calls == {"get_accounts": 1, "iter_follower_chunks": 12}
    # Chunks of two: three pushes to followers, one to the author's own timeline, per post.
    assert timelines.calls == {"push": 12 * 4}
    # One read and one commit per batch, and the backlog gauge's lag.
    assert log.calls == {"read": 1, "commit": 1, "lag": 1}
