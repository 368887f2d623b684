"""The embedded store of record: one SQLite file in WAL mode, one connection per thread.

Writes run under BEGIN IMMEDIATE, so SQLite serialises them and counters stay exact;
events go into the same file in the same commit (the outbox). See docs/subsystems/store.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from starling.model import Account, App, Follow, Post, Relationship, Token, ViewerState
from starling.store.base import Conflict, IdArray, Payload
from starling.store.schema import ThreadConnections, atomic, defer_indexes, restore_indexes

ACCOUNT_COLUMNS = (
    "id, username, display_name, created_at, bot, region, note, followers_count,"
    " following_count, statuses_count, last_status_at, last_active_at"
)
POST_COLUMNS = (
    "id, author_id, text, created_at, reply_to_id, reply_to_account_id, repost_of_id,"
    " hashtags, mentions, language, visibility, spoiler_text, sensitive, deleted_at,"
    " favourites_count, reblogs_count, replies_count"
)
INSERT_ACCOUNT = (
    "INSERT INTO accounts (id, username, username_lower, display_name, created_at, bot, region,"
    " note, followers_count, following_count, statuses_count, last_status_at, last_active_at,"
    " password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_POST = f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({', '.join('?' * 17)})"
INSERT_FOLLOW = (
    "INSERT INTO follows (follower_id, followee_id, created_at, notify) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
INSERT_LIKE = (
    "INSERT INTO likes (account_id, post_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
# A list of ids travels as one JSON parameter, so any number of ids is one query.
IN_IDS = "IN (SELECT value FROM json_each(?))"
LIVE = "deleted_at IS NULL"
NO_MAX_ID = 2**63 - 1
NO_MIN_ID = -(2**63)
# A bulk load into an empty table at least this big builds its indexes once, at the end.
DEFER_INDEXES_FROM_ROWS = 50_000
BULK_CACHE_SIZE = -262_144  # negative means KiB: 256 MiB
UNIQUE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def _account(row: Any) -> Account:
    fields = list(row)
    fields[4] = bool(fields[4])
    return Account(*fields)


# Row builders pass bools as ints: sqlite3 binds a bool (or None) through its slow
# adapter lookup, which dominated bulk loads.
def _account_row(account: Account, password_hash: str | None) -> tuple[object, ...]:
    a = account
    return (
        a.id, a.username, a.username.lower(), a.display_name, a.created_at, int(a.bot), a.region,
        a.note, a.followers_count, a.following_count, a.statuses_count, a.last_status_at,
        a.last_active_at, password_hash,
    )  # fmt: skip


def _post(row: Any) -> Post:
    fields = list(row)  # positions follow POST_COLUMNS
    fields[7] = tuple(fields[7].split())
    fields[8] = tuple(int(m) for m in fields[8].split())
    fields[12] = bool(fields[12])
    return Post(*fields)


def _post_row(p: Post) -> tuple[object, ...]:
    return (
        p.id, p.author_id, p.text, p.created_at, p.reply_to_id, p.reply_to_account_id,
        p.repost_of_id, " ".join(p.hashtags), " ".join(map(str, p.mentions)), p.language,
        p.visibility, p.spoiler_text, int(p.sensitive), p.deleted_at, p.favourites_count,
        p.reblogs_count, p.replies_count,
    )  # fmt: skip


def _follow_row(f: Follow) -> tuple[object, ...]:
    return (f.follower_id, f.followee_id, f.created_at, int(f.notify))


def _posts(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> list[Post]:
    rows = conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE {where}", params)
    return [_post(row) for row in rows]


def _ids(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> IdArray:
    return np.fromiter(chain.from_iterable(conn.execute(sql, params)), dtype=np.int64)


def _counts(rows: Iterable[tuple[int, int]], keys: Iterable[int]) -> dict[int, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(rows)
    return counts


@contextmanager
def _unique_is_conflict() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in UNIQUE_ERRORS:
            raise Conflict(str(exc)) from exc
        raise


@contextmanager
def _bulk_pragmas(conn: sqlite3.Connection) -> Iterator[None]:
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


def _follower_query(active_since: int | None) -> tuple[str, tuple[int, ...]]:
    """Followers above a follower_id, ascending, LIMIT ? (-1: all); optionally active only."""
    sql = "SELECT f.follower_id FROM follows AS f"
    if active_since is not None:
        sql += " JOIN accounts AS a ON a.id = f.follower_id AND a.last_active_at >= ?"
    sql += " WHERE f.followee_id = ? AND f.follower_id > ? ORDER BY f.follower_id LIMIT ?"
    return sql, () if active_since is None else (active_since,)


class SqliteTransaction:
    """The writes of one BEGIN IMMEDIATE transaction (see store.base.Transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.emitted = False

    def insert_account(self, account: Account, password_hash: str | None) -> None:
        with _unique_is_conflict():
            self._conn.execute(INSERT_ACCOUNT, _account_row(account, password_hash))

    def insert_post(self, post: Post) -> None:
        with _unique_is_conflict():
            self._conn.execute(INSERT_POST, _post_row(post))
        self._conn.execute(
            "UPDATE accounts SET statuses_count = statuses_count + 1,"
            " last_status_at = MAX(COALESCE(last_status_at, 0), ?) WHERE id = ?",
            (post.created_at, post.author_id),
        )
        self._bump_replies(post.reply_to_id, 1)

    def tombstone_post(self, post_id: int, deleted_at: int) -> Post | None:
        row = self._conn.execute(
            f"UPDATE posts SET deleted_at = ? WHERE id = ? AND {LIVE} RETURNING {POST_COLUMNS}",
            (deleted_at, post_id),
        ).fetchone()
        if row is None:
            return None
        post = _post(row)
        self._conn.execute(
            "UPDATE accounts SET statuses_count = MAX(statuses_count - 1, 0) WHERE id = ?",
            (post.author_id,),
        )
        self._bump_replies(post.reply_to_id, -1)
        return post

    def _bump_replies(self, parent_id: int | None, delta: int) -> None:
        if parent_id is not None:
            self._conn.execute(
                "UPDATE posts SET replies_count = MAX(replies_count + ?, 0) WHERE id = ?",
                (delta, parent_id),
            )

    def insert_follow(self, follow: Follow) -> bool:
        if self._conn.execute(INSERT_FOLLOW, _follow_row(follow)).rowcount == 0:
            return False
        self._bump_follow_counts(follow.follower_id, follow.followee_id, 1)
        return True

    def delete_follow(self, follower_id: int, followee_id: int) -> bool:
        cur = self._conn.execute(
            "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        if cur.rowcount == 0:
            return False
        self._bump_follow_counts(follower_id, followee_id, -1)
        return True

    def _bump_follow_counts(self, follower_id: int, followee_id: int, delta: int) -> None:
        self._conn.execute(
            "UPDATE accounts SET following_count = MAX(following_count + ?, 0) WHERE id = ?",
            (delta, follower_id),
        )
        self._conn.execute(
            "UPDATE accounts SET followers_count = MAX(followers_count + ?, 0) WHERE id = ?",
            (delta, followee_id),
        )

    def insert_like(self, account_id: int, post_id: int, created_at: int) -> bool:
        cur = self._conn.execute(INSERT_LIKE, (account_id, post_id, created_at))
        return cur.rowcount == 1

    def delete_like(self, account_id: int, post_id: int) -> bool:
        cur = self._conn.execute(
            "DELETE FROM likes WHERE account_id = ? AND post_id = ?", (account_id, post_id)
        )
        return cur.rowcount == 1

    def find_live_repost(self, account_id: int, source_id: int) -> Post | None:
        where = f"author_id = ? AND repost_of_id = ? AND {LIVE}"
        found = _posts(self._conn, where, (account_id, source_id))
        return found[0] if found else None

    def insert_app(self, app: App) -> None:
        a = app
        with _unique_is_conflict():
            self._conn.execute(
                "INSERT INTO apps (id, client_id, client_secret, name, redirect_uris, scopes,"
                " website) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.id, a.client_id, a.client_secret, a.name, a.redirect_uris, a.scopes, a.website),
            )

    def delete_token(self, token_hash: str) -> None:
        self._conn.execute("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))

    def insert_token(self, token: Token) -> None:
        t = token
        with _unique_is_conflict():
            self._conn.execute(
                "INSERT INTO tokens (token_hash, app_id, account_id, scopes, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (t.token_hash, t.app_id, t.account_id, t.scopes, t.created_at),
            )

    def set_last_active(self, account_id: int, ts: int) -> None:
        # MAX: concurrent requests may finish out of order; activity never moves back.
        self._conn.execute(
            "UPDATE accounts SET last_active_at = MAX(last_active_at, ?) WHERE id = ?",
            (ts, account_id),
        )

    def set_post_counts(self, counts: Iterable[tuple[int, int, int]]) -> None:
        self._conn.executemany(
            "UPDATE posts SET favourites_count = ?, reblogs_count = ? WHERE id = ?",
            ((likes, reposts, post_id) for post_id, likes, reposts in counts),
        )

    def emit(self, event_type: str, payload: Payload, ts: int) -> None:
        self._conn.execute(
            "INSERT INTO events (type, payload, ts) VALUES (?, ?, ?)",
            (event_type, json.dumps(payload, separators=(",", ":")), ts),
        )
        self.emitted = True


class SqliteStore:
    """See store.base.Store. `on_commit` runs after each commit that emitted events."""

    def __init__(self, path: Path, *, on_commit: Callable[[], None] | None = None) -> None:
        self._conns = ThreadConnections(path)
        self._on_commit = on_commit
        self._indexes_pending = False

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
        if tx.emitted and self._on_commit is not None:
            self._on_commit()

    # Accounts and auth

    def get_accounts(self, ids: Iterable[int]) -> dict[int, Account]:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id {IN_IDS}"
        return {row[0]: _account(row) for row in self._conn.execute(sql, (_json_ids(ids),))}

    def get_account_by_username(self, username: str) -> Account | None:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = ?"
        row = self._conn.execute(sql, (username.lower(),)).fetchone()
        return None if row is None else _account(row)

    def get_password_hash(self, account_id: int) -> str | None:
        sql = "SELECT password_hash FROM accounts WHERE id = ?"
        row = self._conn.execute(sql, (account_id,)).fetchone()
        return None if row is None else row[0]

    def get_app(self, client_id: str) -> App | None:
        return self._app("client_id", client_id)

    def accounts_with_followers(self, at_least: int) -> IdArray:
        return _ids(self._conn, "SELECT id FROM accounts WHERE followers_count >= ?", (at_least,))

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
        return {p.id: p for p in _posts(self._conn, f"id {IN_IDS}", (_json_ids(ids),))}

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
        posts = _posts(self._conn, f"{' AND '.join(where)} ORDER BY id {order} LIMIT ?", params)
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
        params = (_json_ids(author_ids), NO_MAX_ID if max_id is None else max_id, per_author)
        return _posts(self._conn, f"{where} ORDER BY id DESC", params)

    def post_ids_by_authors(self, author_ids: Sequence[int], since_id: int) -> IdArray:
        sql = f"SELECT id FROM posts WHERE author_id {IN_IDS} AND id > ? ORDER BY id"
        return _ids(self._conn, sql, (_json_ids(author_ids), since_id))

    def count_posts_since(self, author_id: int, since_id: int) -> int:
        """Counts deleted posts too: this measures posting velocity, and an index-only
        count stays cheap for prolific authors."""
        sql = "SELECT COUNT(*) FROM posts WHERE author_id = ? AND id > ?"
        return int(self._conn.execute(sql, (author_id, since_id)).fetchone()[0])

    def max_post_id(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()[0])

    # Graph

    def followers(self, account_id: int, *, active_since: int | None = None) -> IdArray:
        sql, head = _follower_query(active_since)
        return _ids(self._conn, sql, (*head, account_id, NO_MIN_ID, -1))

    def iter_follower_chunks(
        self, account_id: int, chunk: int, *, active_since: int | None = None
    ) -> Iterator[IdArray]:
        # Keyset paging: each chunk is its own short query, so a long fan-out never
        # holds a read snapshot open (which would stall WAL checkpoints).
        sql, head = _follower_query(active_since)
        after = NO_MIN_ID
        while True:
            page = _ids(self._conn, sql, (*head, account_id, after, chunk))
            if len(page) > 0:
                yield page
            if len(page) < chunk:
                return
            after = int(page[-1])

    def notify_followers(self, account_id: int, limit: int) -> IdArray:
        sql = "SELECT follower_id FROM follows WHERE followee_id = ? AND notify = 1 LIMIT ?"
        return _ids(self._conn, sql, (account_id, limit))

    def following(self, account_id: int) -> IdArray:
        sql = "SELECT followee_id FROM follows WHERE follower_id = ?"
        return _ids(self._conn, sql, (account_id,))

    def follows_since(self, account_id: int, since: int) -> list[int]:
        sql = (
            "SELECT followee_id FROM follows WHERE follower_id = ? AND created_at >= ?"
            " ORDER BY created_at DESC"
        )
        return [row[0] for row in self._conn.execute(sql, (account_id, since))]

    def relationships(self, viewer_id: int, ids: Sequence[int]) -> list[Relationship]:
        targets = _json_ids(ids)
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
        targets = _json_ids(post_ids)
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
        return _posts(self._conn, where, (_json_ids(source_ids), _json_ids(by)))

    def engagement_counts(self, viewer_id: int, author_ids: Sequence[int]) -> dict[int, int]:
        sql = (
            "SELECT s.author_id, COUNT(*) FROM ("
            " SELECT post_id AS pid FROM likes WHERE account_id = ?"
            " UNION ALL SELECT repost_of_id FROM posts"
            f"  WHERE author_id = ? AND repost_of_id IS NOT NULL AND {LIVE}"
            f") AS e JOIN posts AS s ON s.id = e.pid WHERE s.author_id {IN_IDS}"
            " GROUP BY s.author_id"
        )
        rows = self._conn.execute(sql, (viewer_id, viewer_id, _json_ids(author_ids)))
        return _counts(rows, author_ids)

    def like_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        sql = f"SELECT post_id, COUNT(*) FROM likes WHERE post_id {IN_IDS} GROUP BY post_id"
        return _counts(self._conn.execute(sql, (_json_ids(post_ids),)), post_ids)

    def repost_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        sql = (
            f"SELECT repost_of_id, COUNT(*) FROM posts WHERE repost_of_id {IN_IDS} AND {LIVE}"
            " GROUP BY repost_of_id"
        )
        return _counts(self._conn.execute(sql, (_json_ids(post_ids),)), post_ids)

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
        with _bulk_pragmas(conn), atomic(conn), _unique_is_conflict():
            self._defer_indexes(conn, tables)
            conn.executemany(INSERT_ACCOUNT, (_account_row(a, None) for a in accounts))
            conn.executemany(INSERT_POST, map(_post_row, posts))
            conn.executemany(INSERT_FOLLOW, map(_follow_row, follows))
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
