"""The embedded store of record: one SQLite file in WAL mode, one connection per thread.

Writes run under BEGIN IMMEDIATE, so SQLite serialises them and counters stay exact;
events go into the same file in the same commit (the outbox). See docs/subsystems/store.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

from starling.model import Account, App, Follow, Post, Relationship, Token, ViewerState
from starling.store.base import IdArray
from starling.store.schema import ThreadConnections, atomic, defer_indexes, restore_indexes
from starling.store.sqlite_rows import (
    ACCOUNT_COLUMNS,
    DEFER_INDEXES_FROM_ROWS,
    IN_IDS,
    INSERT_ACCOUNT,
    INSERT_FOLLOW,
    INSERT_LIKE,
    INSERT_POST,
    LIVE,
    NO_MAX_ID,
    NO_MIN_ID,
    account_from_row,
    account_row,
    bulk_pragmas,
    counts_for,
    follow_row,
    follower_query,
    json_ids,
    post_row,
    select_ids,
    select_posts,
    unique_is_conflict,
)
from starling.store.sqlite_transaction import SqliteTransaction


class SqliteStore:
    """See store.base.Store. `on_commit` runs after each commit that emitted events."""

    def __init__(self, path: Path, *, on_commit: Callable[[], None] | None = None) -> None:
        self.path = path
        self._conns = ThreadConnections(path)
        self._commit_listeners = [] if on_commit is None else [on_commit]
        self._indexes_pending = False

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        self._commit_listeners.append(callback)

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        conn = self._conn
        self._restore_indexes(conn)
        tx = SqliteTransaction(conn)
        with atomic(conn):
            yield tx
        if tx.emitted:
            for listener in self._commit_listeners:
                listener()

    # Accounts and auth

    def get_accounts(self, ids: Iterable[int]) -> dict[int, Account]:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id {IN_IDS}"
        return {row[0]: account_from_row(row) for row in self._conn.execute(sql, (json_ids(ids),))}

    def get_account_by_username(self, username: str) -> Account | None:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = ?"
        row = self._conn.execute(sql, (username.lower(),)).fetchone()
        return None if row is None else account_from_row(row)

    def get_account_by_email(self, email: str) -> Account | None:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = lower(?)"
        row = self._conn.execute(sql, (email,)).fetchone()
        return None if row is None else account_from_row(row)

    def get_password_hash(self, account_id: int) -> str | None:
        sql = "SELECT password_hash FROM accounts WHERE id = ?"
        row = self._conn.execute(sql, (account_id,)).fetchone()
        return None if row is None else row[0]

    def get_app(self, client_id: str) -> App | None:
        return self._app("client_id", client_id)

    def accounts_with_followers(self, at_least: int) -> IdArray:
        return select_ids(
            self._conn, "SELECT id FROM accounts WHERE followers_count >= ?", (at_least,)
        )

    def get_app_by_id(self, app_id: int) -> App | None:
        return self._app("id", app_id)

    def _app(self, column: str, value: object) -> App | None:
        sql = (
            "SELECT id, client_id, client_secret, name, redirect_uris, scopes, website"
            f" FROM apps WHERE {column} = ?"
        )
        row = self._conn.execute(sql, (value,)).fetchone()
        return None if row is None else App(*row)

    def get_token(self, token_hash: str) -> Token | None:
        sql = (
            "SELECT token_hash, app_id, account_id, scopes, created_at"
            " FROM tokens WHERE token_hash = ?"
        )
        row = self._conn.execute(sql, (token_hash,)).fetchone()
        return None if row is None else Token(*row)

    # Posts

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        return {p.id: p for p in select_posts(self._conn, f"id {IN_IDS}", (json_ids(ids),))}

    def account_posts(
        self,
        account_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 20,
        exclude_reposts: bool = False,
        exclude_replies: bool = False,
    ) -> list[Post]:
        where = ["author_id = ?", LIVE]
        params: list[object] = [account_id]
        if exclude_reposts:
            where.append("repost_of_id IS NULL")
        if exclude_replies:
            # As Mastodon: replies to oneself (threads) stay on the profile.
            where.append("(reply_to_id IS NULL OR reply_to_account_id = author_id)")
        return self._page(where, params, max_id, since_id, min_id, limit)

    def public_posts(
        self,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 20,
    ) -> list[Post]:
        # As Mastodon's public timeline: reposts would only repeat posts already on it.
        where = ["visibility = 'public'", "repost_of_id IS NULL", LIVE]
        return self._page(where, [], max_id, since_id, min_id, limit)

    def _page(
        self,
        where: list[str],
        params: list[object],
        max_id: int | None,
        since_id: int | None,
        min_id: int | None,
        limit: int,
    ) -> list[Post]:
        """Mastodon paging: exclusive bounds; with min_id, the posts just above it."""
        for clause, bound in (("id < ?", max_id), ("id > ?", since_id), ("id > ?", min_id)):
            if bound is not None:
                where.append(clause)
                params.append(bound)
        order = "DESC" if min_id is None else "ASC"
        params.append(limit)
        posts = select_posts(
            self._conn, f"{' AND '.join(where)} ORDER BY id {order} LIMIT ?", params
        )
        if min_id is not None:
            posts.reverse()
        return posts

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
        params = (json_ids(author_ids), NO_MAX_ID if max_id is None else max_id, per_author)
        return select_posts(self._conn, f"{where} ORDER BY id DESC", params)

    def post_ids_by_authors(self, author_ids: Sequence[int], since_id: int) -> IdArray:
        sql = f"SELECT id FROM posts WHERE author_id {IN_IDS} AND id > ? ORDER BY id"
        return select_ids(self._conn, sql, (json_ids(author_ids), since_id))

    def count_posts_since(self, author_id: int, since_id: int) -> int:
        """Counts deleted posts too: this measures posting velocity, and an index-only
        count stays cheap for prolific authors."""
        sql = "SELECT COUNT(*) FROM posts WHERE author_id = ? AND id > ?"
        return int(self._conn.execute(sql, (author_id, since_id)).fetchone()[0])

    def totals(self) -> tuple[int, int]:
        sql = f"SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM posts WHERE {LIVE})"
        accounts, posts = self._conn.execute(sql).fetchone()
        return int(accounts), int(posts)

    def max_post_id(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()[0])

    # Graph

    def followers(self, account_id: int, *, active_since: int | None = None) -> IdArray:
        sql, head = follower_query(active_since)
        return select_ids(self._conn, sql, (*head, account_id, NO_MIN_ID, -1))

    def iter_follower_chunks(
        self, account_id: int, chunk: int, *, active_since: int | None = None
    ) -> Iterator[IdArray]:
        # Keyset paging: each chunk is its own short query, so a long fan-out never
        # holds a read snapshot open (which would stall WAL checkpoints).
        sql, head = follower_query(active_since)
        after = NO_MIN_ID
        while True:
            page = select_ids(self._conn, sql, (*head, account_id, after, chunk))
            if len(page) > 0:
                yield page
            if len(page) < chunk:
                return
            after = int(page[-1])

    def notify_followers(self, account_id: int, limit: int) -> IdArray:
        sql = "SELECT follower_id FROM follows WHERE followee_id = ? AND notify = 1 LIMIT ?"
        return select_ids(self._conn, sql, (account_id, limit))

    def following(self, account_id: int) -> IdArray:
        sql = "SELECT followee_id FROM follows WHERE follower_id = ?"
        return select_ids(self._conn, sql, (account_id,))

    def follows_since(self, account_id: int, since: int) -> list[int]:
        sql = (
            "SELECT followee_id FROM follows WHERE follower_id = ? AND created_at >= ?"
            " ORDER BY created_at DESC"
        )
        return [row[0] for row in self._conn.execute(sql, (account_id, since))]

    def relationships(self, viewer_id: int, ids: Sequence[int]) -> list[Relationship]:
        targets = json_ids(ids)
        following = dict(
            self._conn.execute(
                f"SELECT followee_id, notify FROM follows"
                f" WHERE follower_id = ? AND followee_id {IN_IDS}",
                (viewer_id, targets),
            ).fetchall()
        )
        followed_by = set(
            chain.from_iterable(
                self._conn.execute(
                    f"SELECT follower_id FROM follows"
                    f" WHERE followee_id = ? AND follower_id {IN_IDS}",
                    (viewer_id, targets),
                )
            )
        )
        return [
            Relationship(
                id=i,
                following=i in following,
                followed_by=i in followed_by,
                notifying=bool(following.get(i, False)),
            )
            for i in ids
        ]

    # Engagements

    def viewer_state(self, viewer_id: int, post_ids: Sequence[int]) -> ViewerState:
        targets = json_ids(post_ids)
        liked = self._conn.execute(
            f"SELECT post_id FROM likes WHERE account_id = ? AND post_id {IN_IDS}",
            (viewer_id, targets),
        )
        reposted = self._conn.execute(
            f"SELECT repost_of_id FROM posts WHERE author_id = ? AND repost_of_id {IN_IDS}"
            f" AND {LIVE}",
            (viewer_id, targets),
        )
        return ViewerState(
            liked=set(chain.from_iterable(liked)), reposted=set(chain.from_iterable(reposted))
        )

    def reposts_of(self, source_ids: Sequence[int], by: Sequence[int]) -> list[Post]:
        # `+author_id` keeps SQLite off the (author, original) index: probing it costs
        # len(by) x len(source_ids) lookups, while most posts have only a few reposts.
        where = f"repost_of_id {IN_IDS} AND {LIVE} AND +author_id {IN_IDS} ORDER BY id DESC"
        return select_posts(self._conn, where, (json_ids(source_ids), json_ids(by)))

    def engagement_counts(self, viewer_id: int, author_ids: Sequence[int]) -> dict[int, int]:
        sql = (
            "SELECT s.author_id, COUNT(*) FROM ("
            " SELECT post_id AS pid FROM likes WHERE account_id = ?"
            " UNION ALL SELECT repost_of_id FROM posts"
            f"  WHERE author_id = ? AND repost_of_id IS NOT NULL AND {LIVE}"
            f") AS e JOIN posts AS s ON s.id = e.pid WHERE s.author_id {IN_IDS}"
            " GROUP BY s.author_id"
        )
        rows = self._conn.execute(sql, (viewer_id, viewer_id, json_ids(author_ids)))
        return counts_for(rows, author_ids)

    def like_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        sql = f"SELECT post_id, COUNT(*) FROM likes WHERE post_id {IN_IDS} GROUP BY post_id"
        return counts_for(self._conn.execute(sql, (json_ids(post_ids),)), post_ids)

    def repost_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        sql = (
            f"SELECT repost_of_id, COUNT(*) FROM posts WHERE repost_of_id {IN_IDS} AND {LIVE}"
            " GROUP BY repost_of_id"
        )
        return counts_for(self._conn.execute(sql, (json_ids(post_ids),)), post_ids)

    # Bulk loading

    def bulk_load(
        self,
        *,
        accounts: Sequence[Account] = (),
        posts: Sequence[Post] = (),
        follows: Sequence[Follow] = (),
        likes: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        conn = self._conn
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

    def close(self) -> None:
        self._restore_indexes(self._conn)
        self._conns.close()
