"""The seed's four race conditions, under real concurrency (threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from starling.errors import Invalid
from starling.events import PostCreated
from starling.model import Account
from starling.runtime import Runtime
from starling.workers.counts import CountsWorker
from tests.fixtures_runtime import RuntimeFactory

Accounts = Callable[[int], list[Account]]
T = TypeVar("T")


def _race(n: int, work: Callable[[int], T]) -> list[T]:
    """Runs work(i) on n threads released at once; returns results in thread order."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return [r for r in results if r is not None]


def test_concurrent_likes_count_exactly(runtime: Runtime, accounts: Accounts) -> None:
    author, *fans = accounts(33)
    post = runtime.actions.post(author.id, "like me")
    _race(32, lambda i: runtime.actions.like(fans[i].id, post.id))
    _race(32, lambda i: runtime.actions.like(fans[i].id, post.id))  # repeats count once
    assert runtime.cache.counters.get("favourites", [post.id]) == {post.id: 32}
    assert runtime.store.like_counts([post.id]) == {post.id: 32}
    assert runtime.store.get_posts([post.id])[post.id].favourites_count == 32


def test_cold_counter_starts_from_the_store_after_a_restart(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime()
    author = runtime.actions.register("author", None)
    fans = [runtime.actions.register(f"fan{i}", None) for i in range(6)]
    post = runtime.actions.post(author.id, "liked before the restart")
    for fan in fans[:5]:
        runtime.actions.like(fan.id, post.id)
    runtime.close()
    restarted = make_runtime()  # same data dir, empty in-process counters
    assert restarted.cache.counters.get("favourites", [post.id]) == {}
    restarted.actions.like(fans[5].id, post.id)
    assert restarted.cache.counters.get("favourites", [post.id]) == {post.id: 6}


def test_reconciliation_corrects_a_drifted_counter(runtime: Runtime, accounts: Accounts) -> None:
    author, fan = accounts(2)
    post = runtime.actions.post(author.id, "drift")
    runtime.actions.like(fan.id, post.id)
    runtime.cache.counters.incr("favourites", post.id, 5)  # a lost or doubled increment
    counts = runtime.workers["counts"]
    assert isinstance(counts, CountsWorker)
    counts.reconcile([post.id])
    assert runtime.cache.counters.get("favourites", [post.id]) == {post.id: 6}  # seen once
    counts.reconcile([post.id])
    assert runtime.cache.counters.get("favourites", [post.id]) == {post.id: 1}


def test_idempotency_key_creates_one_post(runtime: Runtime, accounts: Accounts) -> None:
    (author, other) = accounts(2)
    posts = _race(20, lambda i: runtime.actions.post(author.id, f"try {i}", idempotency_key="k-1"))
    assert len({p.id for p in posts}) == 1
    assert len(runtime.store.account_posts(author.id, limit=40)) == 1
    # The same key from another account is another request.
    other_post = runtime.actions.post(other.id, "mine", idempotency_key="k-1")
    assert other_post.id != posts[0].id
    retried = runtime.actions.post(author.id, "retry", idempotency_key="k-1")
    assert retried.id == posts[0].id


def test_failed_request_frees_its_idempotency_key(runtime: Runtime, accounts: Accounts) -> None:
    (author,) = accounts(1)
    with pytest.raises(Invalid):
        runtime.actions.post(author.id, " ", idempotency_key="k-2")
    post = runtime.actions.post(author.id, "now valid", idempotency_key="k-2")
    assert runtime.store.account_posts(author.id) == [post]


def test_rapid_reposts_create_one(runtime: Runtime, accounts: Accounts) -> None:
    author, reposter = accounts(2)
    post = runtime.actions.post(author.id, "repost me")
    reposts = _race(20, lambda i: runtime.actions.repost(reposter.id, post.id))
    assert len({r.id for r in reposts}) == 1
    assert runtime.store.repost_counts([post.id]) == {post.id: 1}
    assert runtime.cache.counters.get("reblogs", [post.id]) == {post.id: 1}
    assert runtime.store.get_accounts([reposter.id])[reposter.id].statuses_count == 1


def test_reposts_from_many_accounts_count_exactly(runtime: Runtime, accounts: Accounts) -> None:
    author, *fans = accounts(25)
    post = runtime.actions.post(author.id, "spread")
    _race(24, lambda i: runtime.actions.repost(fans[i].id, post.id))
    _race(24, lambda i: runtime.actions.repost(fans[i].id, post.id))
    assert runtime.cache.counters.get("reblogs", [post.id]) == {post.id: 24}
    _race(12, lambda i: runtime.actions.unrepost(fans[i].id, post.id))
    assert runtime.cache.counters.get("reblogs", [post.id]) == {post.id: 12}
    assert runtime.store.repost_counts([post.id]) == {post.id: 12}


def test_timeline_sees_a_new_follow_immediately(runtime: Runtime, accounts: Accounts) -> None:
    viewer, author = accounts(2)
    runtime.home.read(viewer.id)
    post = runtime.actions.post(author.id, "before follow")
    runtime.actions.follow(viewer.id, author.id)
    assert [p.id for p in runtime.home.read(viewer.id)] == [post.id]


def test_idempotency_survives_losing_the_cache_record(runtime: Runtime, accounts: Accounts) -> None:
    (author,) = accounts(1)
    first = runtime.actions.post(author.id, "once", idempotency_key="k-3")
    runtime.cache.idempotency.release(f"post:{author.id}:k-3")  # as if it died before complete
    retried = runtime.actions.post(author.id, "once", idempotency_key="k-3")
    assert retried.id == first.id
    assert runtime.store.account_posts(author.id) == [first]
    assert [type(e.event) for e in runtime.log.replay(0, None, 100)].count(PostCreated) == 1
