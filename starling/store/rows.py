"""Row layout of the store, shared by every SQL backend: column lists, insert statements,
and converters between rows and domain records. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starling.model import Account, Block, Follow, Mute, Post
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
BLOCK_COLUMNS = "account_id, target_id, id"
MUTE_COLUMNS = "account_id, target_id, id, notifications, expires_at"
INSERT_ACCOUNT = f"INSERT INTO accounts ({ACCOUNT_ROW_COLUMNS}) VALUES ({', '.join('?' * 15)})"
INSERT_POST = f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({', '.join('?' * 17)})"
INSERT_FOLLOW = f"INSERT INTO follows ({FOLLOW_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
INSERT_LIKE = f"INSERT INTO likes ({LIKE_COLUMNS}) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
INSERT_BLOCK = f"INSERT INTO blocks ({BLOCK_COLUMNS}) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
INSERT_MUTE = f"INSERT INTO mutes ({MUTE_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
LIVE = "deleted_at IS NULL"
ACTIVE_MUTE = "(expires_at IS NULL OR expires_at > ?)"  # the parameter is now (ms)
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
    # The hottest decoder of every read: unpacked at once, no list copy, and most posts
    # have neither hashtags nor mentions, so empty strings are not split.
    (
        post_id, author_id, text, created_at, reply_to_id, reply_to_account_id, repost_of_id,
        hashtags, mentions, language, visibility, spoiler_text, sensitive, deleted_at,
        favourites_count, reblogs_count, replies_count,
    ) = row  # fmt: skip
    return Post(
        post_id, author_id, text, created_at, reply_to_id, reply_to_account_id, repost_of_id,
        tuple(hashtags.split()) if hashtags else (),
        tuple(map(int, mentions.split())) if mentions else (),
        language, visibility, spoiler_text, bool(sensitive), deleted_at, favourites_count,
        reblogs_count, replies_count,
    )  # fmt: skip


def post_row(p: Post) -> tuple[object, ...]:
    return (
        p.id, p.author_id, p.text, p.created_at, p.reply_to_id, p.reply_to_account_id,
        p.repost_of_id, " ".join(p.hashtags), " ".join(map(str, p.mentions)), p.language,
        p.visibility, p.spoiler_text, int(p.sensitive), p.deleted_at, p.favourites_count,
        p.reblogs_count, p.replies_count,
    )  # fmt: skip


def follow_row(f: Follow) -> tuple[object, ...]:
    return (f.follower_id, f.followee_id, f.created_at, int(f.notify))


def mute_from_row(row: Any) -> Mute:
    account_id, target_id, mute_id, notifications, expires_at = row
    return Mute(account_id, target_id, mute_id, bool(notifications), expires_at)


def mute_row(m: Mute) -> tuple[object, ...]:
    return (m.account_id, m.target_id, m.id, int(m.notifications), m.expires_at)


def block_row(b: Block) -> tuple[object, ...]:
    return (b.account_id, b.target_id, b.id)


def counts_for(rows: Iterable[tuple[int, int]], keys: Iterable[int]) -> dict[int, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(rows)
    return counts


# The edges between a viewer (the first parameter) and a list of accounts (the second),
# each a branch of one UNION ALL: (kind, the other account, its flag). A mute also takes
# the current time (ACTIVE_MUTE).
EDGES = {
    "following": "SELECT 'following', followee_id, notify FROM follows"
    " WHERE follower_id = ? AND followee_id {in_ids}",
    "followed_by": "SELECT 'followed_by', follower_id, 0 FROM follows"
    " WHERE followee_id = ? AND follower_id {in_ids}",
    "blocking": "SELECT 'blocking', target_id, 0 FROM blocks"
    " WHERE account_id = ? AND target_id {in_ids}",
    "blocked_by": "SELECT 'blocked_by', account_id, 0 FROM blocks"
    " WHERE target_id = ? AND account_id {in_ids}",
    "muting": "SELECT 'muting', target_id, notifications FROM mutes"
    f" WHERE account_id = ? AND target_id {{in_ids}} AND {ACTIVE_MUTE}",
}
# What hides an author from a viewer's timelines, as Mastodon's
# excluded_from_timeline_account_ids: blocked by the viewer, blocking it, or muted.
HIDING = ("blocking", "blocked_by", "muting")


def edges_query(kinds: Iterable[str], in_ids: str) -> str:
    return " UNION ALL ".join(EDGES[kind].format(in_ids=in_ids) for kind in kinds)


def follower_query(active_since: int | None, *, paged: bool) -> tuple[str, tuple[int, ...]]:
    """Followers above a follower_id, ascending (paged: LIMIT ?); optionally active only."""
    sql = "SELECT f.follower_id FROM follows AS f"
    if active_since is not None:
        sql += " JOIN accounts AS a ON a.id = f.follower_id AND a.last_active_at >= ?"
    sql += " WHERE f.followee_id = ? AND f.follower_id > ? ORDER BY f.follower_id"
    if paged:
        sql += " LIMIT ?"
    return sql, () if active_since is None else (active_since,)
