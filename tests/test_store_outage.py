"""The store of record unavailable: SQLite locked past its busy timeout raises
StoreUnavailable, the API answers it with 503 and Retry-After, and workers keep their
events until the store answers again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from starling.api.errors import RETRY_AFTER_S
from starling.store import sqlite_file
from starling.store.base import StoreUnavailable
from starling.store.sqlite import SqliteStore
from tests.fixtures_api import ApiFactory
from tests.fixtures_runtime import FlakyRuntimeFactory

BUSY_TIMEOUT_MS = 50


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections opened from now on give up on a locked file after 50 ms."""
    monkeypatch.setattr(sqlite_file, "BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another process's long write transaction, holding the file's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sqlite_locked_past_the_busy_timeout_is_store_unavailable(
    tmp_path: Path, short_busy_timeout: None
) -> None:
    store = SqliteStore(tmp_path / "starling.sqlite3")
    try:
        with write_locked(store.path):
            with pytest.raises(StoreUnavailable), store.transaction():
                pass
            assert store.max_post_id() == 0  # readers are not blocked (WAL)
        with store.transaction():
            pass
    finally:
        store.close()


def test_a_locked_store_answers_503_with_retry_after(
    api_factory: ApiFactory, short_busy_timeout: None
) -> None:
    api = api_factory()
    alice = api.register("alice")
    with write_locked(api.runtime.settings.store_path):
        refused = api.client.post("/api/v1/statuses", data={"status": "hi"}, headers=alice.auth)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert "error" in refused.json()
        assert api.client.get("/api/v1/timelines/public").status_code == 200
    api.post(alice, "hi")


def test_workers_keep_their_events_while_the_store_is_down(
    make_flaky_runtime: FlakyRuntimeFactory,
) -> None:
    runtime, store = make_flaky_runtime(mode="none")
    viewer = runtime.actions.register("viewer", None)
    author = runtime.actions.register("author", None)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    post = runtime.actions.post(author.id, "waits for the store")
    backlog = runtime.log.lag("fanout")
    store.down = True
    with pytest.raises(StoreUnavailable):
        runtime.fanout.run_once()
    store.down = False
    assert runtime.log.lag("fanout") == backlog
    runtime.drain()
    assert runtime.log.lag("fanout") == 0
    assert post.id in (runtime.cache.timelines.range(viewer.id, limit=5) or [])
