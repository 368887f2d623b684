"""The scale-out store of record: PostgreSQL through a pool of psycopg connections.

Reads and writes are the shared SQL (sql_reads.py, sql_transaction.py); each read takes
a pooled connection for one statement, each transaction holds one until it commits. A
lost server raises StoreUnavailable (postgres_db.py).
Events go into the `events` table in the write's own transaction (the outbox), in commit
order (postgres_transaction.py). Bulk loads use COPY. See docs/subsystems/store.md.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from starling.model import Account, Follow, Post
from starling.store.dialect import POSTGRES
from starling.store.postgres_db import (
    POOL_MAX,
    POOL_MIN,
    PostgresSql,
    borrowed,
    open_pool,
)
from starling.store.postgres_transaction import PostgresTransaction, transaction
from starling.store.rows import (
    ACCOUNT_ROW_COLUMNS,
    FOLLOW_COLUMNS,
    LIKE_COLUMNS,
    LIVE,
    NO_MAX_ID,
    POST_COLUMNS,
    account_row,
    follow_row,
    post_row,
)
from starling.store.sql import select_posts
from starling.store.sql_reads import SqlReads


class PostgresStore(SqlReads):
    """See store.base.Store."""

    def __init__(
        self,
        url: str,
        *,
        pool_min: int = POOL_MIN,
        pool_max: int = POOL_MAX,
    ) -> None:
        self._pool = open_pool(url, min_size=pool_min, max_size=pool_max)
        super().__init__(PostgresSql(functools.partial(borrowed, self._pool)), POSTGRES)

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with borrowed(self._pool) as conn, transaction(conn) as tx:
            yield tx
        self._committed(tx.emitted)

    def latest_posts_by_authors(
        self, author_ids: Sequence[int], per_author: int, max_id: int | None = None
    ) -> list[Post]:
        # A lateral subquery per author walks posts_author newest first and stops at
        # per_author, so prolific authors cost no more than quiet ones.
        newest = (
            f"SELECT id FROM posts WHERE author_id = a.id AND {LIVE} AND id < ?"
            " ORDER BY id DESC LIMIT ?"
        )
        where = f"id IN (SELECT p.id FROM unnest(?::bigint[]) AS a(id), LATERAL ({newest}) AS p)"
        params = (POSTGRES.ids(author_ids), NO_MAX_ID if max_id is None else max_id, per_author)
        return select_posts(self._sql, f"{where} ORDER BY id DESC", params)

    def bulk_load(
        self,
        *,
        accounts: Sequence[Account] = (),
        posts: Sequence[Post] = (),
        follows: Sequence[Follow] = (),
        likes: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        copies: tuple[tuple[str, str, Sequence[object], Iterable[Sequence[object]]], ...] = (
            ("accounts", ACCOUNT_ROW_COLUMNS, accounts, (account_row(a, None) for a in accounts)),
            ("posts", POST_COLUMNS, posts, map(post_row, posts)),
            ("follows", FOLLOW_COLUMNS, follows, map(follow_row, follows)),
            ("likes", LIKE_COLUMNS, likes, likes),
        )
        with borrowed(self._pool) as conn, conn.transaction(), conn.cursor() as cur:
            for table, columns, records, rows in copies:
                if records:
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)

    def close(self) -> None:
        self._pool.close()
