"""The embedded store of record: one SQLite file in WAL mode, one connection per thread.

Writes run under BEGIN IMMEDIATE, so SQLite serialises them and counters stay exact;
events go into the same file in the same commit (the outbox). The reads and writes are
the shared SQL (sql_reads.py, sql_transaction.py). See docs/subsystems/store.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from starling.model import Account, Follow, Post
from starling.store.dialect import SQLITE, Dialect
from starling.store.rows import (
    INSERT_ACCOUNT,
    INSERT_FOLLOW,
    INSERT_LIKE,
    INSERT_POST,
    LIVE,
    NO_MAX_ID,
    account_row,
    follow_row,
    post_row,
)
from starling.store.sql import Sql, select_posts
from starling.store.sql_reads import SqlReads
from starling.store.sqlite_file import (
    LockRetryingSql,
    SqliteSql,
    ThreadConnections,
    atomic,
    defer_indexes,
    restore_indexes,
    unique_is_conflict,
)
from starling.store.sqlite_transaction import SqliteTransaction

# A bulk load into an empty table at least this big builds its indexes once, at the end.
DEFER_INDEXES_FROM_ROWS = 50_000
BULK_CACHE_SIZE = -262_144  # negative means KiB: 256 MiB


class SqliteStore(SqlReads):
    """See store.base.Store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conns = ThreadConnections(path)
        super().__init__(SqliteSql(self._conns.get), SQLITE)
        self._indexes_pending = False
        self._outbox_conns: ThreadConnections | None = None

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        conn = self._conns.get()
        self._restore_indexes(conn)
        tx = SqliteTransaction(conn)
        with atomic(conn):
            yield tx
        self._committed(tx.emitted)

    def latest_posts_by_authors(
        self, author_ids: Sequence[int], per_author: int, max_id: int | None = None
    ) -> list[Post]:
        # A correlated subquery per author walks posts_author newest first and stops at
        # per_author, so prolific authors cost no more than quiet ones.
        newest = (
            f"SELECT id FROM posts WHERE author_id = a.value AND {LIVE} AND id < ?"
            " ORDER BY id DESC LIMIT ?"
        )
        where = f"id IN (SELECT p.id FROM json_each(?) AS a JOIN posts AS p ON p.id IN ({newest}))"
        params = (SQLITE.ids(author_ids), NO_MAX_ID if max_id is None else max_id, per_author)
        return select_posts(self._sql, f"{where} ORDER BY id DESC", params)

    # Bulk loading

    def bulk_load(
        self,
        *,
        accounts: Sequence[Account] = (),
        posts: Sequence[Post] = (),
        follows: Sequence[Follow] = (),
        likes: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        conn = self._conns.get()
        tables = {"accounts": accounts, "posts": posts, "follows": follows, "likes": likes}
        with bulk_pragmas(conn), atomic(conn), unique_is_conflict():
            self._defer_indexes(conn, tables)
            conn.executemany(INSERT_ACCOUNT, (account_row(a, None) for a in accounts))
            conn.executemany(INSERT_POST, map(post_row, posts))
            conn.executemany(INSERT_FOLLOW, map(follow_row, follows))
            conn.executemany(INSERT_LIKE, likes)

    def _defer_indexes(self, conn: sqlite3.Connection, tables: dict[str, Sequence[object]]) -> None:
        for table, rows in tables.items():
            if len(rows) < DEFER_INDEXES_FROM_ROWS:
                continue
            if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
                defer_indexes(conn, table)
                self._indexes_pending = True

    def _restore_indexes(self, conn: sqlite3.Connection) -> None:
        """Ends a bulk load: the first transaction or close() rebuilds what it deferred.
        Reads in between stay correct, only slower."""
        if self._indexes_pending:
            self._indexes_pending = False
            restore_indexes(conn)

    def outbox(self) -> tuple[Sql, Dialect]:
        """The outbox log's statements run on connections of their own that retry a locked
        file at once (LockRetryingSql), so its rare writes do not queue behind the store's."""
        if self._outbox_conns is None:
            self._outbox_conns = ThreadConnections(self.path)
        return LockRetryingSql(self._outbox_conns), SQLITE

    def close(self) -> None:
        self._restore_indexes(self._conns.get())
        self._conns.close()
        if self._outbox_conns is not None:
            self._outbox_conns.close()


@contextmanager
def bulk_pragmas(conn: sqlite3.Connection) -> Iterator[None]:
    """No fsyncs (a half-loaded world is rebuilt from scratch anyway) and a page cache
    big enough to keep the unique indexes' hot pages between rows; both restored after."""
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA cache_size = {BULK_CACHE_SIZE}")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
