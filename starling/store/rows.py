"""Row layout of the store, shared by every SQL backend: column lists, insert statements,
and converters between rows and domain records. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starling.model import Account, Follow, Post
from starling.visibility import OPEN

ACCOUNT_COLUMNS = (
    "id, username, display_name, created_at, bot, region, note, followers_count,"
    " following_count, statuses_count, last_status_at, last_active_at"
)
ACCOUNT_ROW_COLUMNS = (
    "id, username, username_lower, display_name, created_at, bot, region, note,"
    " followers_count, following_count, statuses_count, last_status_at, last_active_at,"
    " password_hash, email"
)
POST_COLUMNS = (
    "id, author_id, text, created_at, reply_to_id, reply_to_account_id, repost_of_id,"
    " hashtags, mentions, language, visibility, spoiler_text, sensitive, deleted_at,"
    " favourites_count, reblogs_count, replies_count"
)
FOLLOW_COLUMNS = "follower_id, followee_id, created_at, notify"
LIKE_COLUMNS = "account_id, post_id, created_at"
INSERT_ACCOUNT = f"INSERT INTO accounts ({ACCOUNT_ROW_COLUMNS}) VALUES ({', '.join('?' * 15)})"
INSERT_POST = f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({', '.join('?' * 17)})"
INSERT_FOLLOW = f"INSERT INTO follows ({FOLLOW_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
INSERT_LIKE = f"INSERT INTO likes ({LIKE_COLUMNS}) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
LIVE = "deleted_at IS NULL"
OPEN_VISIBILITIES = ", ".join(f"'{v}'" for v in OPEN)  # an SQL list
NO_MAX_ID = 2**63 - 1
NO_MIN_ID = -(2**63)


def account_from_row(row: Any) -> Account:
    fields = list(row)
    fields[4] = bool(fields[4])
    return Account(*fields)


# Row builders pass bools as ints: sqlite3 binds a bool (or None) through its slow
# adapter lookup, which dominated bulk loads; flags are 0/1 integers on every backend.
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


def counts_for(rows: Iterable[tuple[int, int]], keys: Iterable[int]) -> dict[int, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(rows)
    return counts


def follower_query(active_since: int | None, *, paged: bool) -> tuple[str, tuple[int, ...]]:
    """Followers above a follower_id, ascending (paged: LIMIT ?); optionally active only."""
    sql = "SELECT f.follower_id FROM follows AS f"
    if active_since is not None:
        sql += " JOIN accounts AS a ON a.id = f.follower_id AND a.last_active_at >= ?"
    sql += " WHERE f.followee_id = ? AND f.follower_id > ? ORDER BY f.follower_id"
    if paged:
        sql += " LIMIT ?"
    return sql, () if active_since is None else (active_since,)
