"""The Redis Streams log and its relay: partitioning by partition_key, a relay that dies
before recording its position adds nothing twice, retention, and consumers of one group
sharing the partitions without overlap and in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from starling.eventlog.base import LogEntry
from starling.eventlog.open import open_outbox
from starling.eventlog.outbox import OutboxLog
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.events import AccountCreated, Event, PostCreated
from starling.ids import now_ms
from starling.store.sqlite import SqliteStore
from starling.workers.relay import RelayWorker
from tests.counting import Counting
from tests.fixtures_eventlog import CLAIM_AFTER_S, KEEP_ALL_S, PARTITIONS
from tests.test_eventlog_conformance import PATIENCE_S, posts

pytestmark = pytest.mark.redis

OpenStreams = Callable[[], RedisStreamsLog]
HOUR_S = 3600


def append(store: SqliteStore, events: Sequence[Event]) -> None:
    with store.transaction() as tx:
        for event in events:
            tx.emit(event)


def everything(log: RedisStreamsLog) -> list[LogEntry]:
    return [e for p in range(log.partitions) for e in log.replay(p, None, 10_000)]


def accounts(*ids: int, at: int) -> list[AccountCreated]:
    return [AccountCreated(i, f"user{i}", "eu", False, at) for i in ids]


def test_events_go_to_partition_key_mod_n_in_outbox_order(
    outbox_store: SqliteStore, outbox_log: OutboxLog, open_streams: OpenStreams
) -> None:
    streams = open_streams()
    append(outbox_store, accounts(*range(12), at=1))
    RelayWorker(outbox_log, streams, KEEP_ALL_S).drain()
    for partition in range(PARTITIONS):
        entries = streams.replay(partition, None, 100)
        assert [e.event.partition_key for e in entries] == list(range(partition, 12, PARTITIONS))
        # Entry ids are the outbox offsets (1-based, here one per account id).
        assert [e.position for e in entries] == [f"{e.event.partition_key + 1}-0" for e in entries]
        assert {e.partition for e in entries} <= {partition}


def test_a_relay_that_died_before_recording_its_position_adds_nothing_twice(
    outbox_store: SqliteStore,
    outbox_log: OutboxLog,
    open_streams: OpenStreams,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    append(outbox_store, [*posts(1, 1, 2, 3), *posts(2, 4)])
    crashed = RelayWorker(outbox_log, open_streams(), KEEP_ALL_S)

    def die(*_: object) -> None:
        raise ConnectionError("the store went away before the relay recorded its position")

    monkeypatch.setattr(outbox_log, "commit", die)
    with pytest.raises(ConnectionError):
        crashed.run_once()
    assert len(everything(crashed.streams)) == 4  # added, but not recorded as relayed

    append(outbox_store, posts(3, 5, 6))
    other_process = open_outbox(outbox_store, claim_after_s=CLAIM_AFTER_S)
    try:
        restarted = RelayWorker(other_process, open_streams(), KEEP_ALL_S)
        time.sleep(CLAIM_AFTER_S * 1.5)  # the dead relay's hold on the outbox lapses
        restarted.drain()
        assert other_process.lag(RelayWorker.name) == 0
    finally:
        other_process.close()
    relayed = everything(restarted.streams)
    assert sorted(e.event.id for e in relayed if isinstance(e.event, PostCreated)) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_the_relay_writes_its_position_to_the_store_once_a_second_and_when_it_stops(
    outbox_store: SqliteStore, open_streams: OpenStreams
) -> None:
    append(outbox_store, accounts(1, 2, 3, at=1))
    store_sql, dialect = outbox_store.outbox()
    sql = Counting(store_sql)
    outbox = OutboxLog(sql, dialect)
    relay = RelayWorker(outbox, open_streams(), KEEP_ALL_S)
    relay.batch_size = 1
    while relay.run_once():
        pass
    # Three batches: the lease and the first position; the store's writer is spared more.
    assert sql.calls["run"] == 2
    assert outbox.lag(relay.name) == 0
    elsewhere = open_outbox(outbox_store)
    try:
        assert elsewhere.committed(relay.name) == 1  # a relay restarted now re-sends two
        outbox.release(relay.name, relay.consumer)
        assert elsewhere.committed(relay.name) == 3
    finally:
        elsewhere.close()
        outbox.close()


def test_relayed_events_past_retention_leave_the_outbox_and_the_streams(
    outbox_store: SqliteStore, outbox_log: OutboxLog, open_streams: OpenStreams
) -> None:
    streams = open_streams()
    relay = RelayWorker(outbox_log, streams, HOUR_S)
    two_hours_ago = now_ms() - 2 * HOUR_S * 1000
    append(outbox_store, accounts(1, 2, 3, at=two_hours_ago))
    relay.run_once()
    assert [e.event for e in streams.read("slow", "c1", 1)] == accounts(1, at=two_hours_ago)
    append(outbox_store, accounts(4, 5, at=now_ms()))
    relay.run_once()
    append(outbox_store, accounts(6, at=two_hours_ago))  # old, but not relayed yet

    assert relay.trim() == 3
    assert [e.event.partition_key for e in outbox_log.replay(0, None, 10)] == [4, 5, 6]
    assert sorted(e.event.partition_key for e in everything(streams)) == [4, 5]
    # A group that fell behind the retention window goes on with what is kept.
    kept = streams.read("slow", "c1", 10)
    assert sorted(e.event.partition_key for e in kept) == [4, 5]
    streams.commit("slow", "c1", kept)
    assert streams.lag("slow") == 0
    assert streams.lag("new") == 2


def test_consumers_of_a_group_share_the_partitions_without_overlap_and_in_order(
    outbox_store: SqliteStore, outbox_log: OutboxLog, open_streams: OpenStreams
) -> None:
    appended = [
        post
        for author in range(20)
        for post in posts(author, *range(author * 10, author * 10 + 10))
    ]
    append(outbox_store, appended)
    RelayWorker(outbox_log, open_streams(), KEEP_ALL_S).drain()
    taken: list[tuple[str, LogEntry]] = []  # in the order consumers took them
    lock = threading.Lock()
    deadline = time.monotonic() + PATIENCE_S

    def consume(name: str) -> None:
        log = open_streams()  # a connection of its own, as another process has
        while time.monotonic() < deadline:
            with lock:
                if len(taken) >= len(appended):
                    return
            entries = log.read("g", name, 10)
            if not entries:
                log.wait("g", name, 0.05)
                continue
            with lock:
                taken.extend((name, entry) for entry in entries)
            time.sleep(0.002)  # applying the batch
            log.commit("g", name, entries)

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE_S)

    assert sorted(e.event.id for _, e in taken if isinstance(e.event, PostCreated)) == sorted(
        p.id for p in appended
    )
    assert len({name for name, _ in taken}) > 1
    for partition in range(PARTITIONS):
        offsets = [int(e.position.split("-")[0]) for _, e in taken if e.partition == partition]
        assert offsets == sorted(offsets)
