"""Row layout of the SQLite store: column lists, statements, and converters between rows
and domain records, shared by the store and its transactions. See docs/subsystems/store.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np

from starling.model import Account, Follow, Post
from starling.store.base import Conflict, IdArray

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
    " password_hash, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


def json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def account_from_row(row: Any) -> Account:
    fields = list(row)
    fields[4] = bool(fields[4])
    return Account(*fields)


# Row builders pass bools as ints: sqlite3 binds a bool (or None) through its slow
# adapter lookup, which dominated bulk loads.
def account_row(
    account: Account, password_hash: str | None, email: str | None = None
) -> tuple[object, ...]:
    a = account
    return (
        a.id, a.username, a.username.lower(), a.display_name, a.created_at, int(a.bot), a.region,
        a.note, a.followers_count, a.following_count, a.statuses_count, a.last_status_at,
        a.last_active_at, password_hash, email,
    )  # fmt: skip


def post_from_row(row: Any) -> Post:
    fields = list(row)  # positions follow POST_COLUMNS
    fields[7] = tuple(fields[7].split())
    fields[8] = tuple(int(m) for m in fields[8].split())
    fields[12] = bool(fields[12])
    return Post(*fields)


def post_row(p: Post) -> tuple[object, ...]:
    return (
        p.id, p.author_id, p.text, p.created_at, p.reply_to_id, p.reply_to_account_id,
        p.repost_of_id, " ".join(p.hashtags), " ".join(map(str, p.mentions)), p.language,
        p.visibility, p.spoiler_text, int(p.sensitive), p.deleted_at, p.favourites_count,
        p.reblogs_count, p.replies_count,
    )  # fmt: skip


def follow_row(f: Follow) -> tuple[object, ...]:
    return (f.follower_id, f.followee_id, f.created_at, int(f.notify))


def select_posts(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> list[Post]:
    rows = conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE {where}", params)
    return [post_from_row(row) for row in rows]


def select_ids(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> IdArray:
    return np.fromiter(chain.from_iterable(conn.execute(sql, params)), dtype=np.int64)


def counts_for(rows: Iterable[tuple[int, int]], keys: Iterable[int]) -> dict[int, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(rows)
    return counts


@contextmanager
def unique_is_conflict() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in UNIQUE_ERRORS:
            raise Conflict(str(exc)) from exc
        raise


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


def follower_query(active_since: int | None) -> tuple[str, tuple[int, ...]]:
    """Followers above a follower_id, ascending, LIMIT ? (-1: all); optionally active only."""
    sql = "SELECT f.follower_id FROM follows AS f"
    if active_since is not None:
        sql += " JOIN accounts AS a ON a.id = f.follower_id AND a.last_active_at >= ?"
    sql += " WHERE f.followee_id = ? AND f.follower_id > ? ORDER BY f.follower_id LIMIT ?"
    return sql, () if active_since is None else (active_since,)
