"""One suite for every cache backend: each test runs in-process, on one Redis and on a
Redis Cluster of three masters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

import numpy as np

from starling.cache.backends import CELEBRITY_POSTS_KEPT, CacheBackends
from starling.ids import id_at
from tests.fixtures_redis import CacheFactory

T = TypeVar("T")
T0 = 1_700_000_000_000  # ms; ids from here on are far above 2^53
THREADS = 16


def post(n: int) -> int:
    """The id of the n-th post in time order."""
    return id_at(T0 + n)


def originals(*ns: int) -> list[tuple[int, int]]:
    return [(post(n), post(n)) for n in ns]


def in_threads(task: Callable[[], T], threads: int = THREADS) -> list[T]:
    """Runs task in many threads released together, to make them collide."""
    start = threading.Barrier(threads)

    def run() -> T:
        start.wait()
        return task()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run) for _ in range(threads)]
        return [future.result() for future in futures]


# Timelines: pushes


def test_push_writes_only_existing_timelines(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [])
    timelines.replace(2, originals(1))

    assert timelines.push([1, 2, 3], post(2), post(2)) == 2

    assert timelines.range(1, limit=10) == [post(2)]
    assert timelines.range(2, limit=10) == [post(2), post(1)]
    assert timelines.range(3, limit=10) is None
    assert not timelines.exists(3)


def test_push_takes_numpy_user_ids(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    for user in (7, 8):
        timelines.replace(user, [])

    assert timelines.push(np.array([7, 8, 9], dtype=np.int64), post(1), post(1)) == 2
    assert timelines.range(8, limit=10) == [post(1)]


def test_push_trims_to_capacity_keeping_newest(make_cache: CacheFactory) -> None:
    timelines = make_cache(capacity=5).timelines
    timelines.replace(1, [])

    for n in range(1, 9):
        timelines.push([1], post(n), post(n))

    assert timelines.range(1, limit=20) == [post(n) for n in (8, 7, 6, 5, 4)]


def test_a_push_delivered_twice_takes_one_slot(make_cache: CacheFactory) -> None:
    """Fan-out is at least once: a re-delivered batch must not crowd older entries out."""
    timelines = make_cache(capacity=3).timelines
    timelines.replace(1, originals(1, 2))
    for _ in range(2):
        timelines.push([1], post(3), post(3))

    assert timelines.range(1, limit=10) == [post(3), post(2), post(1)]
    timelines.push([1], post(4), post(4))
    assert timelines.range(1, limit=10) == [post(4), post(3), post(2)]


def test_trim_after_remove_keeps_newest(make_cache: CacheFactory) -> None:
    timelines = make_cache(capacity=3).timelines
    timelines.replace(1, originals(1, 2, 3))
    timelines.remove(1, [post(2)])

    for n in (4, 5):
        timelines.push([1], post(n), post(n))

    assert timelines.range(1, limit=10) == [post(5), post(4), post(3)]


def test_push_returns_count_written(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    source, repost = post(1), post(2)
    timelines.replace(1, [(source, source)])
    timelines.replace(2, [])
    timelines.replace(3, [])

    assert timelines.push([1, 2, 3, 4], repost, source) == 2
    assert timelines.push([], post(3), post(3)) == 0


# Timelines: reposts


def test_repost_skipped_when_source_present(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, originals(1))

    assert timelines.push([1], post(2), post(1)) == 0
    assert timelines.range(1, limit=10) == [post(1)]


def test_repost_skipped_when_another_repost_present(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [])

    assert timelines.push([1], post(2), post(1)) == 1
    assert timelines.push([1], post(3), post(1)) == 0
    assert timelines.range(1, limit=10) == [post(2)]


def test_repost_skipped_when_merged_repost_present(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [])
    timelines.merge(1, [(post(2), post(1))])

    assert timelines.push([1], post(3), post(1)) == 0


def test_repost_written_once_earlier_repost_is_removed(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [])
    timelines.push([1], post(2), post(1))
    timelines.remove(1, [post(2)])

    assert timelines.push([1], post(3), post(1)) == 1
    assert timelines.range(1, limit=10) == [post(3)]


def test_repost_written_once_earlier_repost_is_trimmed(make_cache: CacheFactory) -> None:
    timelines = make_cache(capacity=2).timelines
    timelines.replace(1, [])
    timelines.push([1], post(2), post(1))
    for n in (3, 4):
        timelines.push([1], post(n), post(n))

    assert timelines.push([1], post(5), post(1)) == 1
    assert timelines.range(1, limit=10) == [post(5), post(4)]


def test_original_written_even_if_a_repost_of_it_is_present(
    cache_backends: CacheBackends,
) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [(post(2), post(1))])

    assert timelines.push([1], post(1), post(1)) == 1


# Timelines: reads


def test_range_pages_newest_first(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, originals(*range(1, 11)))

    assert timelines.range(1, limit=3) == [post(10), post(9), post(8)]
    assert timelines.range(1, max_id=post(8), limit=3) == [post(7), post(6), post(5)]
    assert timelines.range(1, min_id=post(8), limit=5) == [post(10), post(9)]
    assert timelines.range(1, max_id=post(6), min_id=post(3), limit=5) == [post(5), post(4)]
    assert timelines.range(1, max_id=post(1), limit=5) == []
    assert timelines.range(1, limit=0) == []


def test_range_is_exact_for_ids_sharing_a_float(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    base = 2**62  # doubles here are 1024 apart: base + 1 .. base + 300 all round to base
    assert float(base + 1) == float(base + 300)
    crowd = [base + i for i in range(1, 301)]
    timelines.replace(1, [(i, i) for i in [*crowd, base - 5000]])

    assert timelines.range(1, max_id=base + 100, limit=3) == [base + 99, base + 98, base + 97]
    assert timelines.range(1, min_id=base + 298, limit=10) == [base + 300, base + 299]
    assert timelines.range(1, max_id=base + 1, limit=10) == [base - 5000]
    assert timelines.range(1, max_id=base + 4, min_id=base + 1, limit=10) == [base + 3, base + 2]


def test_missing_timeline_reads_none(cache_backends: CacheBackends) -> None:
    assert cache_backends.timelines.range(42, limit=10) is None
    assert not cache_backends.timelines.exists(42)


# Timelines: rewrites


def test_replace_creates_even_an_empty_timeline(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, [])

    assert timelines.exists(1)
    assert timelines.range(1, limit=10) == []


def test_replace_overwrites_and_keeps_newest_capacity(make_cache: CacheFactory) -> None:
    timelines = make_cache(capacity=3).timelines
    timelines.replace(1, originals(9))
    timelines.replace(1, originals(4, 1, 5, 2, 3))

    assert timelines.range(1, limit=10) == [post(5), post(4), post(3)]


def test_merge_keeps_newest_capacity(make_cache: CacheFactory) -> None:
    timelines = make_cache(capacity=4).timelines
    timelines.replace(1, originals(10, 20, 30))
    timelines.merge(1, originals(25, 35, 5, 20))

    assert timelines.range(1, limit=10) == [post(35), post(30), post(25), post(20)]


def test_merge_into_missing_timeline_does_nothing(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.merge(1, originals(1))

    assert not timelines.exists(1)


def test_remove_drops_entries(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, originals(1, 2, 3))
    timelines.remove(1, [post(2), post(9)])
    timelines.remove(5, [post(1)])

    assert timelines.range(1, limit=10) == [post(3), post(1)]
    assert not timelines.exists(5)


def test_delete_drops_whole_timelines(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    for user in (1, 2, 3):
        timelines.replace(user, originals(user))
    timelines.delete([1, 2, 4])

    assert [timelines.exists(user) for user in (1, 2, 3)] == [False, False, True]
    assert timelines.push([1, 2, 3], post(9), post(9)) == 1
    timelines.replace(1, originals(7))
    assert timelines.range(1, limit=10) == [post(7)]


def test_memory_bytes_counts_timelines(cache_backends: CacheBackends) -> None:
    timelines = cache_backends.timelines
    timelines.replace(1, originals(1, 2))

    assert timelines.memory_bytes() > 0


# Celebrity index


def test_celebrity_latest_newest_first(cache_backends: CacheBackends) -> None:
    celebrities = cache_backends.celebrities
    for n in (1, 2, 3):
        celebrities.add(100, post(n))
    celebrities.add(200, post(4))

    latest = celebrities.latest([100, 200, 300], per_author=2)

    assert latest.dtype == np.int64
    assert latest.tolist() == [post(4), post(3), post(2)]


def test_celebrity_latest_below_max_id_is_exact(cache_backends: CacheBackends) -> None:
    celebrities = cache_backends.celebrities
    base = 2**62
    for post_id in (base - 5000, base + 1, base + 2, base + 3):
        celebrities.add(100, post_id)

    assert celebrities.latest([100], 2, max_id=base + 3).tolist() == [base + 2, base + 1]
    assert celebrities.latest([100], 5, max_id=base + 1).tolist() == [base - 5000]


def test_celebrity_index_keeps_newest_posts_only(cache_backends: CacheBackends) -> None:
    celebrities = cache_backends.celebrities
    added = CELEBRITY_POSTS_KEPT + 50
    for n in range(added):
        celebrities.add(100, post(n))

    newest = [post(n) for n in range(added - 1, 49, -1)]
    assert celebrities.latest([100], 1000).tolist() == newest


def test_celebrity_remove_and_among(cache_backends: CacheBackends) -> None:
    celebrities = cache_backends.celebrities
    celebrities.add(100, post(1))
    celebrities.add(100, post(2))
    celebrities.add(300, post(3))
    celebrities.remove(100, post(2))

    assert celebrities.latest([100], 5).tolist() == [post(1)]
    assert celebrities.celebrities_among([100, 200, 300]).tolist() == [100, 300]
    assert celebrities.celebrities_among([]).tolist() == []


# Counters


def test_counters_exact_under_concurrent_increments(cache_backends: CacheBackends) -> None:
    counters = cache_backends.counters

    def like_500_times() -> None:
        for _ in range(500):
            counters.incr("likes", 1)

    in_threads(like_500_times)

    assert counters.get("likes", [1, 2]) == {1: THREADS * 500}


def test_counters_sum_deltas_per_name(cache_backends: CacheBackends) -> None:
    counters = cache_backends.counters
    counters.incr("likes", 1, 3)
    counters.incr("likes", 1, -1)
    counters.incr("likes", 2, -1)
    counters.incr("reposts", 1)

    assert counters.get("likes", [1, 2, 3]) == {1: 2, 2: -1}
    assert counters.get("reposts", [1]) == {1: 1}
    assert counters.get("likes", []) == {}


def test_counter_seed_starts_only_an_absent_counter(cache_backends: CacheBackends) -> None:
    counters = cache_backends.counters
    assert counters.seed("likes", 1, 1_000)
    assert not counters.seed("likes", 1, 5)
    counters.incr("likes", 1)
    counters.incr("likes", 2)
    assert not counters.seed("likes", 2, 7)  # an increment already started it
    assert counters.seed("reposts", 1, 0)  # names are separate
    assert counters.get("likes", [1, 2]) == {1: 1_001, 2: 1}
    assert counters.get("reposts", [1]) == {1: 0}


def test_concurrent_seeds_start_a_counter_once(cache_backends: CacheBackends) -> None:
    counters = cache_backends.counters
    assert sorted(in_threads(lambda: counters.seed("likes", 9, 42))) == [False] * (THREADS - 1) + [
        True
    ]
    assert counters.get("likes", [9]) == {9: 42}


# Idempotency keys


def test_idempotency_reserve_complete_release(cache_backends: CacheBackends) -> None:
    keys = cache_backends.idempotency

    assert keys.reserve("a", 60) is None
    assert keys.reserve("a", 60) == ""
    keys.complete("a", '{"id": "1"}', 60)
    assert keys.reserve("a", 60) == '{"id": "1"}'

    assert keys.reserve("b", 60) is None
    keys.release("b")
    assert keys.reserve("b", 60) is None


def test_idempotency_one_concurrent_reserve_wins(cache_backends: CacheBackends) -> None:
    keys = cache_backends.idempotency

    claims = in_threads(lambda: keys.reserve("k", 60))

    assert claims.count(None) == 1
    assert claims.count("") == THREADS - 1


def test_idempotency_claim_expires(cache_backends: CacheBackends) -> None:
    keys = cache_backends.idempotency
    keys.reserve("k", 1)
    time.sleep(1.2)

    assert keys.reserve("k", 60) is None


# Membership sets


def test_membership_add_and_discard(cache_backends: CacheBackends) -> None:
    sets = cache_backends.sets

    assert sets.add("user_retweets:1", 5)
    assert not sets.add("user_retweets:1", 5)
    assert sets.add("user_retweets:2", 5)
    sets.discard("user_retweets:1", 5)
    sets.discard("user_retweets:3", 5)
    assert sets.add("user_retweets:1", 5)


def test_membership_one_concurrent_add_wins(cache_backends: CacheBackends) -> None:
    sets = cache_backends.sets

    added = in_threads(lambda: sets.add("user_retweets:1", 5))

    assert sorted(added) == [False] * (THREADS - 1) + [True]


# Served entries


def test_served_entries_are_kept_per_viewer_with_their_explanations(
    cache_backends: CacheBackends,
) -> None:
    served = cache_backends.served
    served.record(1, {post(1): "a", post(2): "b"}, 60)
    served.record(1, {post(3): "c"}, 60)
    served.record(2, {post(4): "d"}, 60)

    assert served.served_among(1, [post(4), post(3), post(1), post(9)]).tolist() == [
        post(3),
        post(1),
    ]
    assert served.served_among(1, []).tolist() == []
    assert served.served_among(3, [post(1)]).tolist() == []
    assert served.explanation(1, post(2)) == "b"
    assert served.explanation(2, post(2)) is None


def test_served_entries_expire(cache_backends: CacheBackends) -> None:
    served = cache_backends.served
    served.record(1, {post(1): "a"}, 1)

    time.sleep(1.2)

    assert served.served_among(1, [post(1)]).tolist() == []
    assert served.explanation(1, post(1)) is None


def test_seen_entries_are_apart_from_served_ones(cache_backends: CacheBackends) -> None:
    cache_backends.seen.record(1, {post(1): ""}, 60)
    cache_backends.served.record(1, {post(2): "x"}, 60)

    assert cache_backends.seen.served_among(1, [post(1), post(2)]).tolist() == [post(1)]
    assert cache_backends.served.served_among(1, [post(1), post(2)]).tolist() == [post(2)]


# Ranked lists


def test_ranked_lists_are_kept_per_viewer_replaced_and_dropped(
    cache_backends: CacheBackends,
) -> None:
    ranked = cache_backends.ranked
    assert ranked.get(1) is None
    ranked.put(1, "first", T0, 60)
    ranked.put(1, "second", T0 + 5, 60)
    ranked.put(2, "other", T0 + 7, 60)
    ranked.put(3, "third", T0 + 9, 60)

    assert ranked.get(1) == ("second", T0 + 5)
    ranked.drop(np.array([1, 3, 4], dtype=np.int64))
    assert ranked.get(1) is None
    assert ranked.get(3) is None
    assert ranked.get(2) == ("other", T0 + 7)
    ranked.drop([])


def test_ranked_lists_expire(cache_backends: CacheBackends) -> None:
    cache_backends.ranked.put(1, "list", T0, 1)

    time.sleep(1.2)

    assert cache_backends.ranked.get(1) is None


# Inputs


def np_int(value: int) -> int:
    """A numpy scalar, as iterating over an id array yields."""
    return cast(int, np.int64(value))


def test_numpy_ids_are_accepted_everywhere(cache_backends: CacheBackends) -> None:
    """The fan-out path hands over numpy arrays and numpy scalars."""
    one, entry = np_int(1), np_int(post(1))
    cache_backends.timelines.replace(one, [(entry, entry)])
    cache_backends.timelines.remove(one, list(np.array([entry])))
    cache_backends.celebrities.add(one, entry)
    cache_backends.counters.incr("likes", one)

    assert cache_backends.timelines.range(one, limit=5) == []
    assert cache_backends.celebrities.latest(np.array([1]), 5).tolist() == [post(1)]
    assert cache_backends.counters.get("likes", list(np.array([1]))) == {1: 1}
    assert cache_backends.sets.add("s", one)
