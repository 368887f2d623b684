"""The store of record and its event log, opened on every backend by URL.

`store_url` is parametrised over SQLite (a file in the test's directory) and PostgreSQL
(a fresh database, fixtures_postgres.py); tests that take it run once per backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from starling.eventlog.open import open_outbox
from starling.eventlog.outbox import OutboxLog
from starling.store.base import Store
from starling.store.open import SQLITE_PREFIX, open_store
from starling.store.sql_reads import SqlReads

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"{SQLITE_PREFIX}{tmp_path / 'data' / 'starling.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_store(store_url: str) -> Iterator[StoreFactory]:
    """Opens stores on the backend under test; closes them after."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()


@pytest.fixture
def log(store: Store) -> OutboxLog:
    """The outbox log over the store's own `events` table."""
    assert isinstance(store, SqlReads)
    return open_outbox(store)
