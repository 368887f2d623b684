"""Event logs for the conformance suite: each backend with a way to append to it.

Appends always go through a store transaction (the outbox); a log fed by a relay runs
the relay after each append, so every backend is tested as the application feeds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from starling.eventlog.base import EventLog
from starling.eventlog.open import open_log
from starling.events import Event
from starling.store.base import Store
from starling.store.open import open_store

CLAIM_AFTER_S = 0.3


@dataclass
class LogUnderTest:
    log: EventLog
    store: Store
    reopen: Callable[[], EventLog]  # another handle on the same log, as a new process has

    def append(self, events: Sequence[Event]) -> None:
        with self.store.transaction() as tx:
            for event in events:
                tx.emit(event)


@pytest.fixture(
    params=["sqlite-outbox", pytest.param("postgres-outbox", marks=pytest.mark.postgres)]
)
def log_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogUnderTest]:
    if request.param == "sqlite-outbox":
        store = open_store(f"sqlite:///{tmp_path / 'starling.sqlite3'}")
    else:
        store = open_store(request.getfixturevalue("postgres_url"))
    opened: list[EventLog] = []

    def reopen() -> EventLog:
        log = open_log(None, store, claim_after_s=CLAIM_AFTER_S)
        opened.append(log)
        return log

    yield LogUnderTest(reopen(), store, reopen)
    for log in opened:
        log.close()
    store.close()
