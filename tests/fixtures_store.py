"""The store of record and its event log, opened on every backend by URL.

`store_url` is parametrised over SQLite (a file in the test's directory) and PostgreSQL
(a fresh database, fixtures_postgres.py); tests that take it run once per backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from starling.eventlog.base import EventLog
from starling.eventlog.postgres import PostgresEventLog
from starling.eventlog.sqlite import SqliteEventLog
from starling.store.base import Store
from starling.store.open import SQLITE_PREFIX, open_store

StoreFactory = Callable[..., Store]


class WakeableLog(EventLog, Protocol):
    def notify(self) -> None:
        """Wakes waiters in this process (the store's on_commit)."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"{SQLITE_PREFIX}{tmp_path / 'data' / 'starling.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def open_log(url: str) -> WakeableLog:
    """The event log kept in the store at `url`."""
    if url.startswith(SQLITE_PREFIX):
        return SqliteEventLog(Path(url.removeprefix(SQLITE_PREFIX)))
    return PostgresEventLog(url)


@pytest.fixture
def make_store(store_url: str) -> Iterator[StoreFactory]:
    """Opens stores on the backend under test (make(on_commit=...)); closes them after."""
    opened: list[Store] = []

    def make(on_commit: Callable[[], None] | None = None) -> Store:
        store = open_store(store_url, on_commit=on_commit)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()


@pytest.fixture
def log(store_url: str) -> Iterator[WakeableLog]:
    opened = open_log(store_url)
    yield opened
    opened.close()
