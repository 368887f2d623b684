"""What only the SQLite store does: migrating an older file, durability pragmas around
bulk loads, and deferring indexes during big loads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling.model import Follow
from starling.store import sqlite as sqlite_store
from starling.store.base import StoreError
from starling.store.sqlite import SqliteStore
from starling.store.sqlite_file import MIGRATIONS, connect, migrate, user_version
from tests.store_records import account, add_accounts, ids, post


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "data" / "store.sqlite3")
    yield s
    s.close()


def execute(store: SqliteStore, sql: str) -> list[tuple[object, ...]]:
    return store._conns.get().execute(sql).fetchall()


def test_bulk_load_relaxes_durability_only_while_it_runs(store: SqliteStore) -> None:
    cache_size = execute(store, "PRAGMA cache_size")
    store.bulk_load(accounts=[account(1)], posts=[post(10, 1)])
    # 2 is FULL.
    assert execute(store, "PRAGMA synchronous") == [(2,)]
    assert execute(store, "PRAGMA cache_size") == cache_size


def test_the_file_is_in_wal_mode(store: SqliteStore) -> None:
    assert execute(store, "PRAGMA journal_mode") == [("wal",)]


def test_opening_an_older_file_applies_missing_migrations(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = connect(path)
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO accounts (id, username, username_lower, created_at)"
        " VALUES (1, 'Old', 'old', 0)"
    )
    conn.close()
    store = SqliteStore(path)
    try:
        assert user_version(store._conns.get()) == len(MIGRATIONS) > 1
        assert store.get_account_by_username("old") == account(1, username="Old")
        assert execute(store, "SELECT COUNT(*) FROM pending_indexes") == [(0,)]
    finally:
        store.close()


def test_migrations_apply_in_order_each_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.sqlite3")
    v1 = ("CREATE TABLE t (a INTEGER)",)
    v2 = ("ALTER TABLE t ADD COLUMN b INTEGER", "INSERT INTO t VALUES (1, 2)")
    try:
        migrate(conn, [v1])
        assert user_version(conn) == 1
        # v1 would fail if run again: the table exists.
        migrate(conn, [v1, v2])
        assert user_version(conn) == 2
        assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, 2)]
    finally:
        conn.close()


def test_failed_migration_rolls_back_whole_step(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.sqlite3")
    v1 = ("CREATE TABLE t (a INTEGER)",)
    broken = ("CREATE TABLE u (a INTEGER)", "INSERT INTO missing VALUES (1)")
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, [v1, broken])
        assert user_version(conn) == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "t" in tables
        assert "u" not in tables
    finally:
        conn.close()


def test_newer_file_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.sqlite3")
    try:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        with pytest.raises(StoreError):
            migrate(conn)
    finally:
        conn.close()


def index_names(store: SqliteStore) -> set[str]:
    rows = execute(store, "SELECT name FROM sqlite_master WHERE type = 'index'")
    return {str(row[0]) for row in rows}


@pytest.fixture
def deferring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "DEFER_INDEXES_FROM_ROWS", 2)


def load_graph(store: SqliteStore) -> None:
    store.bulk_load(accounts=[account(i) for i in range(1, 5)])
    store.bulk_load(follows=[Follow(f, 1, 0, notify=f == 3) for f in range(2, 5)])


@pytest.mark.usefixtures("deferring")
def test_bulk_load_defers_indexes_until_the_next_transaction(store: SqliteStore) -> None:
    before = index_names(store)
    load_graph(store)
    assert "follows_followee" not in index_names(store)
    # Reads stay correct while the index is missing.
    assert ids(store.followers(1)) == [2, 3, 4]
    store.bulk_load(follows=[Follow(1, 2, 0), Follow(1, 3, 0)])
    assert "follows_followee" not in index_names(store)
    add_accounts(store, 9)
    assert index_names(store) == before
    assert ids(store.followers(1)) == [2, 3, 4]
    assert ids(store.notify_followers(1, 5)) == [3]


@pytest.mark.usefixtures("deferring")
def test_deferred_indexes_are_rebuilt_on_close_or_next_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    loader, other = SqliteStore(path), SqliteStore(path)
    before = index_names(other)
    load_graph(loader)
    assert index_names(other) != before
    SqliteStore(path).close()  # what a restarted server does on open
    assert index_names(other) == before
    other.bulk_load(likes=[(2, 1, 0), (3, 1, 0)])
    assert "likes_post" not in index_names(other)
    other.close()
    reopened = SqliteStore(path)
    try:
        assert index_names(reopened) == before
    finally:
        reopened.close()
        loader.close()
