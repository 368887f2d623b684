"""Event logs for the conformance suite: each backend with a way to append to it.

Appends always go through a store transaction (the outbox); a log fed by a relay runs
the relay after each append, so every backend is tested as the application feeds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from starling.eventlog.base import EventLog
from starling.eventlog.open import open_log, open_outbox
from starling.eventlog.outbox import OutboxLog
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.events import Event
from starling.store.base import Store
from starling.store.open import open_store
from starling.store.sqlite import SqliteStore
from starling.workers.relay import RelayWorker

CLAIM_AFTER_S = 0.3
PARTITIONS = 4
# The suite's events are dated 1970: a retention counted in days would trim them at once.
KEEP_ALL_S = 100 * 365 * 24 * 3600.0


@dataclass
class LogUnderTest:
    log: EventLog
    store: Store
    reopen: Callable[[], EventLog]  # another handle on the same log, as a new process has
    relay: RelayWorker | None = None  # feeds the log from the outbox

    def append(self, events: Sequence[Event]) -> None:
        with self.store.transaction() as tx:
            for event in events:
                tx.emit(event)
        if self.relay is not None:
            self.relay.drain()


@pytest.fixture
def outbox_store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "starling.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def outbox_log(outbox_store: SqliteStore) -> Iterator[OutboxLog]:
    log = open_outbox(outbox_store, claim_after_s=CLAIM_AFTER_S)
    yield log
    log.close()


@pytest.fixture
def open_streams(
    redis_url: str, outbox_store: SqliteStore
) -> Iterator[Callable[[], RedisStreamsLog]]:
    """Opens handles on one Redis Streams log under a fresh key prefix."""
    prefix = f"test:{uuid.uuid4().hex}:"
    opened: list[RedisStreamsLog] = []

    def make() -> RedisStreamsLog:
        log = open_log(
            redis_url,
            outbox_store,
            claim_after_s=CLAIM_AFTER_S,
            partitions=PARTITIONS,
            key_prefix=prefix,
        )
        assert isinstance(log, RedisStreamsLog)
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()
    _delete_prefixed(redis_url, prefix)


@pytest.fixture(
    params=[
        "sqlite-outbox",
        pytest.param("postgres-outbox", marks=pytest.mark.postgres),
        pytest.param("redis-streams", marks=pytest.mark.redis),
    ]
)
def log_under_test(
    request: pytest.FixtureRequest, outbox_store: SqliteStore, outbox_log: OutboxLog
) -> Iterator[LogUnderTest]:
    if request.param == "redis-streams":
        open_streams: Callable[[], RedisStreamsLog] = request.getfixturevalue("open_streams")
        streams = open_streams()
        relay = RelayWorker(outbox_log, streams, KEEP_ALL_S)
        yield LogUnderTest(streams, outbox_store, open_streams, relay)
        return
    store: Store = outbox_store
    if request.param == "postgres-outbox":
        store = open_store(request.getfixturevalue("postgres_url"))
    opened: list[EventLog] = []

    def reopen() -> EventLog:
        log = open_log(None, store, claim_after_s=CLAIM_AFTER_S)
        opened.append(log)
        return log

    yield LogUnderTest(reopen(), store, reopen)
    for log in opened:
        log.close()
    if store is not outbox_store:
        store.close()


def _delete_prefixed(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
