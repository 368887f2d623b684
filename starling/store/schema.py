"""The SQLite file's layout and how to open it: per-thread connections and migrations.

The store and the event log share one file, so a write and its event commit together.
The schema version lives in PRAGMA user_version; opening an older file applies the
missing migrations in order, one transaction each. A statement that finds the file still
locked after the busy timeout raises StoreUnavailable. See docs/subsystems/store.md.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starling.store.base import StoreError, StoreUnavailable

Migration = tuple[str, ...]

# Hashtags and mentions are stored space-separated: tags are word characters and
# mentions are ids, so neither can contain a space, and splitting beats JSON on load.
_V1_CORE: Migration = (
    """CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        username_lower TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        bot INTEGER NOT NULL DEFAULT 0,
        region TEXT NOT NULL DEFAULT '',
        followers_count INTEGER NOT NULL DEFAULT 0,
        following_count INTEGER NOT NULL DEFAULT 0,
        statuses_count INTEGER NOT NULL DEFAULT 0,
        last_status_at INTEGER,
        last_active_at INTEGER NOT NULL DEFAULT 0,
        password_hash TEXT
    )""",
    """CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        reply_to_id INTEGER,
        reply_to_account_id INTEGER,
        repost_of_id INTEGER,
        hashtags TEXT NOT NULL DEFAULT '',
        mentions TEXT NOT NULL DEFAULT '',
        language TEXT,
        visibility TEXT NOT NULL DEFAULT 'public',
        spoiler_text TEXT NOT NULL DEFAULT '',
        sensitive INTEGER NOT NULL DEFAULT 0,
        deleted_at INTEGER,
        favourites_count INTEGER NOT NULL DEFAULT 0,
        reblogs_count INTEGER NOT NULL DEFAULT 0,
        replies_count INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX posts_author ON posts (author_id, id)",
    # The atomic repost check-and-set: one live repost per (author, original).
    """CREATE UNIQUE INDEX posts_live_repost ON posts (author_id, repost_of_id)
        WHERE repost_of_id IS NOT NULL AND deleted_at IS NULL""",
    "CREATE INDEX posts_repost_of ON posts (repost_of_id) WHERE repost_of_id IS NOT NULL",
    """CREATE TABLE follows (
        follower_id INTEGER NOT NULL,
        followee_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        notify INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (follower_id, followee_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX follows_followee ON follows (followee_id, follower_id)",
    # Few follows notify; without this a celebrity's lookup would scan every follower.
    "CREATE INDEX follows_notify ON follows (followee_id, follower_id) WHERE notify = 1",
    """CREATE TABLE likes (
        account_id INTEGER NOT NULL,
        post_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, post_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX likes_post ON likes (post_id)",
    """CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE,
        client_secret TEXT NOT NULL,
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        scopes TEXT NOT NULL,
        website TEXT
    )""",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps (id),
        account_id INTEGER REFERENCES accounts (id),
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # AUTOINCREMENT: offsets are never reused, even if old events are pruned one day.
    """CREATE TABLE events (
        offset INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        ts INTEGER NOT NULL
    )""",
    """CREATE TABLE consumer_offsets (
        grp TEXT PRIMARY KEY,
        offset INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

# Indexes a bulk load dropped, with the SQL that rebuilds them (see defer_indexes).
_V2_PENDING_INDEXES: Migration = (
    "CREATE TABLE pending_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL) WITHOUT ROWID",
)

# Idempotency-Key records live with the posts they made, so a retry after a crash between
# the commit and the cache's record still finds the post (the cache is the fast path).
_V3_IDEMPOTENCY_KEYS: Migration = (
    """CREATE TABLE idempotency_keys (
        account_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        post_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
    ) WITHOUT ROWID""",
)

# Which consumer of a group reads the outbox now, and until when (eventlog/outbox.py).
_V4_CONSUMER_LEASES: Migration = (
    """CREATE TABLE consumer_leases (
        grp TEXT PRIMARY KEY,
        consumer TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
)

MIGRATIONS: tuple[Migration, ...] = (
    _V1_CORE,
    _V2_PENDING_INDEXES,
    _V3_IDEMPOTENCY_KEYS,
    _V4_CONSUMER_LEASES,
)

BUSY_TIMEOUT_MS = 10_000


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
    found = user_version(conn)
    if found > len(migrations):
        raise StoreError(f"schema version {found} is newer than this code ({len(migrations)})")
    for version, statements in enumerate(migrations, start=1):
        if version <= found:
            continue
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
