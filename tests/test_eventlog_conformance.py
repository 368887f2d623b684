"""The event-log contract, run on every backend: typed entries, order per partition,
groups that never move back, lag, replay from a position, one consumer at a time per
entry, and a dead consumer's entries claimed by another after the claim timeout."""

from __future__ import annotations

import threading
import time

from starling.events import Event, FollowCreated, LikeCreated, PostCreated
from tests.fixtures_eventlog import CLAIM_AFTER_S, LogUnderTest

# Generous: these bound a hang when waking is broken, they do not measure speed.
PATIENCE_S = 30.0


def posts(author: int, *ids: int) -> list[PostCreated]:
    return [
        PostCreated(
            i,
            author,
            f"post {i}",
            "en",
            ("tag",),
            (),
            "public",
            None,
            None,
            None,
            None,
            1_000 + i,
            "eu",
            False,
        )
        for i in ids
    ]


def drain(under: LogUnderTest, group: str, consumer: str = "c1") -> list[Event]:
    events: list[Event] = []
    while entries := under.log.read(group, consumer, 3):
        events += [e.event for e in entries]
        under.log.commit(group, consumer, entries)
    return events


def test_empty_log_has_nothing_to_read(log_under_test: LogUnderTest) -> None:
    assert log_under_test.log.read("g", "c1", 10) == []
    assert log_under_test.log.lag("g") == 0


def test_entries_come_back_typed_and_in_order_per_partition(log_under_test: LogUnderTest) -> None:
    appended: list[Event] = [
        *posts(1, 10, 11),
        FollowCreated(5, 1, 7),
        *posts(2, 12),
        LikeCreated(10, 1, 5, 9),
    ]
    appended += posts(1, 13)
    log_under_test.append(appended)
    read = drain(log_under_test, "g")
    assert sorted(read, key=appended.index) == appended  # each exactly once
    for author in (1, 2):
        mine = [e for e in appended if isinstance(e, PostCreated) and e.author_id == author]
        assert [e for e in read if e in mine] == mine


def test_a_committed_group_never_moves_back(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2, 3, 4))
    first = under.log.read("g", "c1", 2)
    under.log.commit("g", "c1", first)
    second = under.log.read("g", "c1", 2)
    assert [e.event for e in second] == posts(1, 3, 4)
    under.log.commit("g", "c1", second)
    under.log.commit("g", "c1", first)  # late, again: must not rewind
    assert under.log.read("g", "c1", 10) == []
    assert under.log.lag("g") == 0
    reopened = under.reopen()
    assert reopened.read("g", "c1", 10) == []


def test_lag_counts_what_the_group_has_not_committed(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2, 3))
    assert under.log.lag("g") == 3
    under.log.commit("g", "c1", under.log.read("g", "c1", 2))
    assert under.log.lag("g") == 1
    assert under.log.lag("other") == 3  # groups are independent


def test_groups_each_see_every_entry(log_under_test: LogUnderTest) -> None:
    log_under_test.append(posts(1, 1, 2))
    assert drain(log_under_test, "fanout") == drain(log_under_test, "search") == posts(1, 1, 2)


def test_replay_from_a_position(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2, 3, 4))
    everything = [e for p in range(under.log.partitions) for e in under.log.replay(p, None, 100)]
    assert sorted(e.event.id for e in everything if isinstance(e.event, PostCreated)) == [
        1,
        2,
        3,
        4,
    ]
    one = next(e for e in everything if e.event == posts(1, 2)[0])
    after = under.log.replay(one.partition, one.position, 100)
    assert [e.event for e in after] == posts(1, 3, 4)


def test_a_consumer_that_did_not_commit_reads_the_same_entries_again(
    log_under_test: LogUnderTest,
) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2))
    first = under.log.read("g", "c1", 10)
    again = under.log.read("g", "c1", 10)  # its apply failed: it retries the batch
    assert [e.event for e in again] == [e.event for e in first] == posts(1, 1, 2)


def test_an_uncommitted_entry_goes_to_one_consumer_at_a_time(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2))
    taken = under.log.read("g", "c1", 10)
    assert [e.event for e in taken] == posts(1, 1, 2)
    assert under.log.read("g", "c2", 10) == []  # c1 holds them and is alive


def test_a_dead_consumers_entries_are_claimed_after_the_timeout(
    log_under_test: LogUnderTest,
) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2))
    under.log.read("g", "dead", 10)  # takes both, then dies without committing
    time.sleep(CLAIM_AFTER_S * 1.5)
    survivor = under.reopen()
    claimed = survivor.read("g", "c2", 10)
    assert [e.event for e in claimed] == posts(1, 1, 2)
    survivor.commit("g", "c2", claimed)
    assert survivor.lag("g") == 0


def test_a_released_consumer_hands_over_at_once(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1))
    under.log.commit("g", "c1", under.log.read("g", "c1", 10))
    under.log.release("g", "c1")
    under.append(posts(1, 2))
    assert [e.event for e in under.log.read("g", "c2", 10)] == posts(1, 2)


def test_wait_returns_when_an_entry_arrives(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    assert not under.log.wait("g", "c1", 0.1)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(under.log.wait("g", "c1", PATIENCE_S)))
    waiter.start()
    under.append(posts(1, 1))
    waiter.join(PATIENCE_S)
    assert woke == [True]


def test_a_released_consumer_hands_over_what_it_held_at_once(log_under_test: LogUnderTest) -> None:
    under = log_under_test
    under.append(posts(1, 1, 2))
    under.log.read("g", "c1", 10)  # holds both, then stops cleanly without committing
    under.log.release("g", "c1")
    assert [e.event for e in under.log.read("g", "c2", 10)] == posts(1, 1, 2)
