"""What For You keeps in front of the store: post records (store calls counted, the
oldest dropped at capacity, a deletion seen by the page's re-read and by For You's first
page, readers while other threads keep records) and authors' counts (kept a minute)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from starling.foryou.hydrators import COUNTS_MAX_AGE_MS, AuthorFollowers
from starling.ids import now_ms
from starling.mixer import Candidates, Page, Query
from starling.mixer.posts import PostRecords
from starling.mixer.records import KeptRecords
from starling.model import Account, Post
from starling.runtime import Runtime
from tests.counting import Counting
from tests.test_foryou import for_you

Accounts = Callable[[int], list[Account]]


def written(runtime: Runtime, accounts: Accounts, n: int) -> list[Post]:
    (author,) = accounts(1)
    return [runtime.actions.post(author.id, f"post {i}") for i in range(n)]


def test_a_kept_record_is_read_without_the_store(runtime: Runtime, accounts: Accounts) -> None:
    ids = [p.id for p in written(runtime, accounts, 4)]
    store = Counting(runtime.store)
    records = KeptRecords(store)

    assert records.get_posts(ids[:2]) == runtime.store.get_posts(ids[:2])
    assert records.get_posts(ids) == runtime.store.get_posts(ids)
    assert store.calls == {"get_posts": 2}
    store.reset()

    assert records.get_posts(reversed(ids)) == runtime.store.get_posts(ids)
    assert store.calls == {}
    assert (records.hits, records.misses) == (2 + 4, 2 + 2)


def test_the_oldest_read_is_dropped_at_capacity(runtime: Runtime, accounts: Accounts) -> None:
    ids = [p.id for p in written(runtime, accounts, 4)]
    store = Counting(runtime.store)
    records = KeptRecords(store, capacity=3)
    records.get_posts(ids[:3])
    records.get_posts(ids[:1])  # a hit: still the oldest read
    records.get_posts(ids[3:])
    store.reset()

    records.get_posts(ids[1:])
    assert store.calls == {} and len(records) == 3
    records.get_posts(ids[:1])
    assert store.calls == {"get_posts": 1}

    nothing_kept = KeptRecords(store, capacity=0)
    nothing_kept.get_posts(ids)
    nothing_kept.get_posts(ids)
    assert store.calls == {"get_posts": 3} and len(nothing_kept) == 0


def test_a_fresh_read_replaces_a_record_behind_on_a_deletion(
    runtime: Runtime, accounts: Accounts
) -> None:
    (post,) = written(runtime, accounts, 1)
    records = KeptRecords(runtime.store)
    records.get_posts([post.id])
    runtime.actions.delete(post.author_id, post.id)

    assert records.get_posts([post.id])[post.id].deleted_at is None  # kept: behind
    assert records.fresh.get_posts([post.id])[post.id].deleted_at is not None
    assert records.get_posts([post.id])[post.id].deleted_at is not None


def test_for_you_does_not_serve_a_post_deleted_after_its_record_was_kept(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, friend = accounts(2)
    runtime.actions.follow(viewer.id, friend.id)
    posts = [runtime.actions.post(friend.id, f"friend {i}") for i in range(3)]
    timeline = for_you(runtime)
    timeline.mix(Query(viewer.id, Page(limit=35)))  # keeps the three records
    runtime.actions.delete(friend.id, posts[1].id)

    served = timeline.serve(viewer.id)

    # The pipeline ranked the kept record as live; the page's re-read dropped it.
    assert served.listed is not None and posts[1].id in served.listed.candidates.post_id
    assert [p.id for p in served.posts] == [posts[2].id, posts[0].id]
    assert all(p.deleted_at is None for p in served.posts)
    assert timeline.records.get_posts([posts[1].id])[posts[1].id].deleted_at is not None
    timeline.close()


def test_readers_get_every_record_asked_while_others_keep(
    runtime: Runtime, accounts: Accounts
) -> None:
    posts = written(runtime, accounts, 64)
    expected = {p.id: p for p in runtime.store.get_posts([p.id for p in posts]).values()}
    records = KeptRecords(runtime.store, capacity=16)
    wrong: list[str] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(200):
            asked = rng.sample(sorted(expected), 12)
            found = records.get_posts(asked)
            if found != {i: expected[i] for i in asked}:
                wrong.append(f"reader {seed}: {sorted(found)} for {sorted(asked)}")

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert wrong == [] and len(records) <= 16 and records.misses > 64  # dropped, read again


def test_author_counts_are_kept_a_minute_then_read_again(
    runtime: Runtime, accounts: Accounts
) -> None:
    author, other, fan = accounts(3)
    posts = [runtime.actions.post(a.id, "hello") for a in (author, author, other)]
    now = [now_ms()]
    store = Counting(runtime.store)
    hydrator = AuthorFollowers(store, lambda: now[0])
    batch = PostRecords(runtime.store).hydrate(Query(fan.id), Candidates.of([p.id for p in posts]))

    def followers() -> list[float]:
        found = hydrator.hydrate(Query(fan.id), batch).feature("author_followers")
        return [float(f) for f in found]

    assert followers() == [0, 0, 0] and store.calls == {"account_counts": 1}
    runtime.actions.follow(fan.id, author.id)
    now[0] += COUNTS_MAX_AGE_MS
    assert followers() == [0, 0, 0] and store.calls == {"account_counts": 1}  # kept
    now[0] += 1
    assert followers() == [1, 1, 0] and store.calls == {"account_counts": 2}
