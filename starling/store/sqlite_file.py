"""The SQLite file: how to open it (per-thread connections), migrate it, and run the
shared SQL on it (SqliteSql).

The store and the event log share one file, so a write and its event commit together.
The schema version lives in PRAGMA user_version; opening an older file applies the
missing migrations (schema.py) in order, one transaction each.
See docs/subsystems/store.md.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from starling.store.base import Conflict, StoreUnavailable
from starling.store.dialect import SQLITE
from starling.store.schema import Migration, missing, render
from starling.store.sql import Params

# The schema rendered for SQLite.
MIGRATIONS = render(SQLITE)
UNIQUE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
BUSY_TIMEOUT_MS = 10_000
MMAP_BYTES = 1 << 31
T = TypeVar("T")


class _Connection(sqlite3.Connection):
    """Reports "database is locked" past the busy timeout as StoreUnavailable. A lock is
    taken by a statement's first step, which execute runs, so execute is the one place."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname.startswith("SQLITE_BUSY"):
                raise StoreUnavailable(f"{exc} (after {BUSY_TIMEOUT_MS} ms)") from exc
            raise


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode; callers issue BEGIN IMMEDIATE themselves."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=_Connection)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # A 2xx goes out only after commit; FULL makes that commit survive a power cut.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Reads from the OS page cache without copying each page into SQLite's own: batched
    # reads of random rows (For You's post records) take ~15% less. SQLite caps it at its
    # compile-time maximum.
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception, so nothing partial lands."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Applies the migrations the file lacks, each in its own transaction."""
    for version, statements in missing(user_version(conn), migrations):
        with atomic(conn):
            # Checked again under the write lock: another process may have just migrated.
            if user_version(conn) < version:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")


def defer_indexes(conn: sqlite3.Connection, table: str) -> None:
    """Drops the table's non-unique indexes until restore_indexes, inside the caller's
    transaction. Kept up row by row in random key order, an index has most of its pages
    rewritten by every chunk of a bulk load; one CREATE INDEX at the end sorts once."""
    found = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'",
        (table,),
    ).fetchall()
    conn.executemany("INSERT INTO pending_indexes (name, sql) VALUES (?, ?)", found)
    for name, _ in found:
        conn.execute(f'DROP INDEX "{name}"')


def restore_indexes(conn: sqlite3.Connection) -> None:
    """Rebuilds the indexes a bulk load deferred; a no-op when none are pending."""
    if conn.execute("SELECT 1 FROM pending_indexes LIMIT 1").fetchone() is None:
        return
    with atomic(conn):
        for _, sql in conn.execute("SELECT name, sql FROM pending_indexes").fetchall():
            conn.execute(sql)
        conn.execute("DELETE FROM pending_indexes")


class ThreadConnections:
    """One connection per thread to a migrated database file; close() closes them all."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        migrate(self.get())
        # A load that stopped before it restored its indexes left them pending.
        restore_indexes(self.get())

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


@contextmanager
def unique_is_conflict() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in UNIQUE_ERRORS:
            raise Conflict(str(exc)) from exc
        raise


class SqliteSql:
    """sql.Sql on a connection of this thread (`conn()` returns it)."""

    def __init__(self, conn: Callable[[], sqlite3.Connection]) -> None:
        self._conn = conn

    def rows(self, statement: str, params: Params = ()) -> Iterable[Any]:
        return self._conn().execute(statement, params)

    def one(self, statement: str, params: Params = ()) -> Any:
        return self._conn().execute(statement, params).fetchone()

    def run(self, statement: str, params: Params = ()) -> int:
        with unique_is_conflict():
            return self._conn().execute(statement, params).rowcount

    def many(self, statement: str, rows: Iterable[Params]) -> None:
        with unique_is_conflict():
            self._conn().executemany(statement, rows)


LOCKED_RETRY_S = 0.0005


class LockRetryingSql(SqliteSql):
    """SqliteSql for one-statement writes that must not wait behind a stream of others:
    on its own connections, with SQLite's busy handler off, a locked file is retried every
    half millisecond. SQLite's handler backs off to 100 ms between tries and keeps losing
    the single writer to a busy store's transactions (the relay's rare commits waited up to
    2.6 s under 1,000 posts/s)."""

    def __init__(self, conns: ThreadConnections) -> None:
        super().__init__(self._connection)
        self._conns = conns
        self._configured = threading.local()

    def rows(self, statement: str, params: Params = ()) -> Iterable[Any]:
        return self._retrying(lambda: list(super(LockRetryingSql, self).rows(statement, params)))

    def one(self, statement: str, params: Params = ()) -> Any:
        return self._retrying(lambda: super(LockRetryingSql, self).one(statement, params))

    def run(self, statement: str, params: Params = ()) -> int:
        return self._retrying(lambda: super(LockRetryingSql, self).run(statement, params))

    def _retrying(self, statement: Callable[[], T]) -> T:
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return statement()
            except (sqlite3.OperationalError, StoreUnavailable) as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(LOCKED_RETRY_S)

    def _connection(self) -> sqlite3.Connection:
        conn = self._conns.get()
        if getattr(self._configured, "conn", None) is not conn:
            conn.execute("PRAGMA busy_timeout = 0")  # a locked file answers at once
            self._configured.conn = conn
        return conn


def _locked(exc: Exception) -> bool:
    """A locked file, as SQLite reports it or as _Connection does (StoreUnavailable)."""
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) else exc
    return isinstance(cause, sqlite3.OperationalError) and (cause.sqlite_errorcode & 0xFF) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )
