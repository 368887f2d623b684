"""The read side of the Store protocol, written once for every SQL backend.

SqliteStore and PostgresStore inherit these methods and add what differs: how
connections and transactions are held, bulk loading, and `latest_posts_by_authors`,
whose best shape differs per planner. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import chain
from typing import TypeVar

import numpy as np

from starling.engagements import EngagementKind, Engagements
from starling.ids import now_ms
from starling.model import Account, App, Block, Mute, Post, Relationship, Token, ViewerState
from starling.store.base import IdArray
from starling.store.dialect import Dialect
from starling.store.rows import (
    ACCOUNT_COLUMNS,
    ACTIVE_MUTE,
    EDGES,
    HIDING,
    LIVE,
    NO_MIN_ID,
    OPEN_VISIBILITIES,
    account_from_row,
    counts_for,
    edges_query,
    follower_query,
)
from starling.store.sql import Params, Sql, select_blocks, select_ids, select_mutes, select_posts
from starling.store.sql_campaigns import SqlCampaignReads

Row = TypeVar("Row", Post, Block, Mute)


class SqlReads(SqlCampaignReads):
    def __init__(self, sql: Sql, dialect: Dialect) -> None:
        self._sql = sql
        self._dialect = dialect
        self._commit_listeners: list[Callable[[], None]] = []

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        self._commit_listeners.append(callback)

    def outbox(self) -> tuple[Sql, Dialect]:
        """This store's own connections and dialect, for the log over its `events` table."""
        return self._sql, self._dialect

    def _committed(self, emitted: bool) -> None:
        """Runs after each commit: wakes the listeners when it appended events."""
        if emitted:
            for listener in self._commit_listeners:
                listener()

    # Accounts and auth

    def get_accounts(self, ids: Iterable[int]) -> dict[int, Account]:
        d = self._dialect
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id {d.in_ids}"
        return {row[0]: account_from_row(row) for row in self._sql.rows(sql, (d.ids(ids),))}

    def account_counts(self, ids: Iterable[int]) -> IdArray:
        d = self._dialect
        sql = (
            "SELECT id, followers_count, following_count, statuses_count"
            f" FROM accounts WHERE id {d.in_ids}"
        )
        rows = list(self._sql.rows(sql, (d.ids(ids),)))
        found = np.array(rows, dtype=np.int64).reshape(-1, 4)
        ordered: IdArray = found[np.argsort(found[:, 0])]
        return ordered

    def get_account_by_username(self, username: str) -> Account | None:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = ?"
        row = self._sql.one(sql, (username.lower(),))
        return None if row is None else account_from_row(row)

    def get_account_by_email(self, email: str) -> Account | None:
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = lower(?)"
        row = self._sql.one(sql, (email,))
        return None if row is None else account_from_row(row)

    def get_password_hash(self, account_id: int) -> str | None:
        row = self._sql.one("SELECT password_hash FROM accounts WHERE id = ?", (account_id,))
        return None if row is None else row[0]

    def get_app(self, client_id: str) -> App | None:
        return self._app("client_id", client_id)

    def get_app_by_id(self, app_id: int) -> App | None:
        return self._app("id", app_id)

    def _app(self, column: str, value: object) -> App | None:
        sql = (
            "SELECT id, client_id, client_secret, name, redirect_uris, scopes, website"
            f" FROM apps WHERE {column} = ?"
        )
        row = self._sql.one(sql, (value,))
        return None if row is None else App(*row)

    def accounts_with_followers(self, at_least: int) -> IdArray:
        sql = "SELECT id FROM accounts WHERE followers_count >= ?"
        return select_ids(self._sql, sql, (at_least,))

    def get_token(self, token_hash: str) -> Token | None:
        sql = (
            "SELECT token_hash, app_id, account_id, scopes, created_at"
            " FROM tokens WHERE token_hash = ?"
        )
        row = self._sql.one(sql, (token_hash,))
        return None if row is None else Token(*row)

    # Posts

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        d = self._dialect
        return {p.id: p for p in select_posts(self._sql, f"id {d.in_ids}", (d.ids(ids),))}

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
        return self._page(select_posts, where, params, max_id, since_id, min_id, limit)

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
        return self._page(select_posts, where, [], max_id, since_id, min_id, limit)

    def _page(
        self,
        select: Callable[[Sql, str, Params], list[Row]],
        where: list[str],
        params: list[object],
        max_id: int | None,
        since_id: int | None,
        min_id: int | None,
        limit: int,
    ) -> list[Row]:
        """Mastodon paging by id: exclusive bounds; with min_id, the rows just above it."""
        for clause, bound in (("id < ?", max_id), ("id > ?", since_id), ("id > ?", min_id)):
            if bound is not None:
                where.append(clause)
                params.append(bound)
        order = "DESC" if min_id is None else "ASC"
        params.append(limit)
        rows = select(self._sql, f"{' AND '.join(where)} ORDER BY id {order} LIMIT ?", params)
        if min_id is not None:
            rows.reverse()
        return rows

    def iter_posts(self, after_id: int, chunk: int) -> Iterator[list[Post]]:
        # Keyset paging, one short query per chunk, as iter_follower_chunks.
        while True:
            page = select_posts(self._sql, "id > ? ORDER BY id LIMIT ?", (after_id, chunk))
            if page:
                yield page
            if len(page) < chunk:
                return
            after_id = page[-1].id

    def post_ids_by_authors(self, author_ids: Sequence[int], since_id: int) -> IdArray:
        d = self._dialect
        sql = f"SELECT id FROM posts WHERE author_id {d.in_ids} AND id > ? ORDER BY id"
        return select_ids(self._sql, sql, (d.ids(author_ids), since_id))

    def count_posts_since(self, author_id: int, since_id: int) -> int:
        """Counts deleted posts too: this measures posting velocity, and an index-only
        count stays cheap for prolific authors."""
        sql = "SELECT COUNT(*) FROM posts WHERE author_id = ? AND id > ?"
        return int(self._sql.one(sql, (author_id, since_id))[0])

    def totals(self) -> tuple[int, int]:
        sql = f"SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM posts WHERE {LIVE})"
        accounts, posts = self._sql.one(sql)
        return int(accounts), int(posts)

    def max_post_id(self) -> int:
        return int(self._sql.one("SELECT COALESCE(MAX(id), 0) FROM posts")[0])

    # Graph

    def followers(self, account_id: int, *, active_since: int | None = None) -> IdArray:
        sql, head = follower_query(active_since, paged=False)
        return select_ids(self._sql, sql, (*head, account_id, NO_MIN_ID))

    def iter_follower_chunks(
        self, account_id: int, chunk: int, *, active_since: int | None = None
    ) -> Iterator[IdArray]:
        # Keyset paging: each chunk is its own short query, so a long fan-out never
        # holds a read snapshot open (which would stall WAL checkpoints, or vacuum).
        sql, head = follower_query(active_since, paged=True)
        after = NO_MIN_ID
        while True:
            page = select_ids(self._sql, sql, (*head, account_id, after, chunk))
            if len(page) > 0:
                yield page
            if len(page) < chunk:
                return
            after = int(page[-1])

    def iter_follows(self, chunk: int) -> Iterator[tuple[IdArray, IdArray]]:
        # Keyset paging on the primary key, as iter_follower_chunks.
        sql = (
            "SELECT follower_id, followee_id FROM follows"
            " WHERE (follower_id, followee_id) > (?, ?)"
            " ORDER BY follower_id, followee_id LIMIT ?"
        )
        after = (NO_MIN_ID, NO_MIN_ID)
        while True:
            pairs = select_ids(self._sql, sql, (*after, chunk)).reshape(-1, 2)
            if len(pairs) > 0:
                yield pairs[:, 0].copy(), pairs[:, 1].copy()
            if len(pairs) < chunk:
                return
            after = (int(pairs[-1, 0]), int(pairs[-1, 1]))

    def notify_followers(self, account_id: int, limit: int) -> IdArray:
        sql = "SELECT follower_id FROM follows WHERE followee_id = ? AND notify = 1 LIMIT ?"
        return select_ids(self._sql, sql, (account_id, limit))

    def following(self, account_id: int) -> IdArray:
        sql = "SELECT followee_id FROM follows WHERE follower_id = ?"
        return select_ids(self._sql, sql, (account_id,))

    def follows_since(self, account_id: int, since: int) -> list[int]:
        sql = (
            "SELECT followee_id FROM follows WHERE follower_id = ? AND created_at >= ?"
            " ORDER BY created_at DESC"
        )
        return [row[0] for row in self._sql.rows(sql, (account_id, since))]

    def relationships(self, viewer_id: int, ids: Sequence[int]) -> list[Relationship]:
        edges: dict[str, dict[int, int]] = {kind: {} for kind in EDGES}
        for kind, other, flag in self._edges(viewer_id, ids, EDGES):
            edges[kind][other] = flag
        following, muting = edges["following"], edges["muting"]
        return [
            Relationship(
                id=i,
                following=i in following,
                followed_by=i in edges["followed_by"],
                notifying=bool(following.get(i, False)),
                blocking=i in edges["blocking"],
                blocked_by=i in edges["blocked_by"],
                muting=i in muting,
                muting_notifications=bool(muting.get(i, False)),
            )
            for i in ids
        ]

    def hidden_authors(self, viewer_id: int, author_ids: Sequence[int]) -> set[int]:
        return {other for _, other, _ in self._edges(viewer_id, author_ids, HIDING)}

    def _edges(
        self, viewer_id: int, ids: Sequence[int], kinds: Collection[str]
    ) -> list[tuple[str, int, int]]:
        """The viewer's edges of these kinds (rows.EDGES) to any of ids, in one query."""
        d = self._dialect
        targets, now = d.ids(ids), now_ms()
        params: list[object] = []
        for kind in kinds:  # a mute's branch also takes the time (rows.ACTIVE_MUTE)
            params += (viewer_id, targets, now) if kind == "muting" else (viewer_id, targets)
        return list(self._sql.rows(edges_query(kinds, d.in_ids), params))

    def blocks(
        self,
        account_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 40,
    ) -> list[Block]:
        where = ["account_id = ?"]
        return self._page(select_blocks, where, [account_id], max_id, since_id, min_id, limit)

    def mutes(
        self,
        account_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 40,
    ) -> list[Mute]:
        where = ["account_id = ?", ACTIVE_MUTE]
        params: list[object] = [account_id, now_ms()]
        return self._page(select_mutes, where, params, max_id, since_id, min_id, limit)

    # Engagements

    def viewer_state(self, viewer_id: int, post_ids: Sequence[int]) -> ViewerState:
        d = self._dialect
        targets = d.ids(post_ids)
        liked = self._sql.rows(
            f"SELECT post_id FROM likes WHERE account_id = ? AND post_id {d.in_ids}",
            (viewer_id, targets),
        )
        reposted = self._sql.rows(
            f"SELECT repost_of_id FROM posts WHERE author_id = ? AND repost_of_id {d.in_ids}"
            f" AND {LIVE}",
            (viewer_id, targets),
        )
        return ViewerState(
            liked=set(chain.from_iterable(liked)), reposted=set(chain.from_iterable(reposted))
        )

    def reposts_of(self, source_ids: Sequence[int], by: Sequence[int]) -> list[Post]:
        # `+author_id` keeps the planner off the (author, original) index: probing it costs
        # len(by) x len(source_ids) lookups, while most posts have only a few reposts.
        d = self._dialect
        where = f"repost_of_id {d.in_ids} AND {LIVE} AND +author_id {d.in_ids} ORDER BY id DESC"
        return select_posts(self._sql, where, (d.ids(source_ids), d.ids(by)))

    def engagement_counts(self, viewer_id: int, author_ids: Sequence[int]) -> dict[int, int]:
        d = self._dialect
        sql = (
            "SELECT s.author_id, COUNT(*) FROM ("
            " SELECT post_id AS pid FROM likes WHERE account_id = ?"
            " UNION ALL SELECT repost_of_id FROM posts"
            f"  WHERE author_id = ? AND repost_of_id IS NOT NULL AND {LIVE}"
            f") AS e JOIN posts AS s ON s.id = e.pid WHERE s.author_id {d.in_ids}"
            " GROUP BY s.author_id"
        )
        rows = self._sql.rows(sql, (viewer_id, viewer_id, d.ids(author_ids)))
        return counts_for(rows, author_ids)

    def like_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        d = self._dialect
        sql = f"SELECT post_id, COUNT(*) FROM likes WHERE post_id {d.in_ids} GROUP BY post_id"
        return counts_for(self._sql.rows(sql, (d.ids(post_ids),)), post_ids)

    def repost_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        d = self._dialect
        sql = (
            f"SELECT repost_of_id, COUNT(*) FROM posts WHERE repost_of_id {d.in_ids} AND {LIVE}"
            " GROUP BY repost_of_id"
        )
        return counts_for(self._sql.rows(sql, (d.ids(post_ids),)), post_ids)

    def iter_engagements(self, since: int, chunk: int) -> Iterator[Engagements]:
        yield from self._engagements(_LIKES_SINCE, (NO_MIN_ID, NO_MIN_ID), since, chunk)
        yield from self._engagements(_REPOSTS_AND_REPLIES_SINCE, (NO_MIN_ID,), since, chunk)

    def _engagements(
        self, sql: str, after: tuple[int, ...], since: int, chunk: int
    ) -> Iterator[Engagements]:
        # Keyset paging on the table's key, as iter_posts: one short query per chunk.
        while True:
            rows = list(self._sql.rows(sql, (*after, since, chunk)))
            if rows:
                yield Engagements.of_rows([row[:5] for row in rows])
            if len(rows) < chunk:
                return
            after = tuple(rows[-1][5:])


# Each row: account, post, post's author, kind, time, then the key to page on.
_LIKES_SINCE = (
    f"SELECT l.account_id, l.post_id, p.author_id, {int(EngagementKind.LIKE)}, l.created_at,"
    " l.account_id, l.post_id"
    " FROM likes AS l JOIN posts AS p ON p.id = l.post_id"
    " WHERE (l.account_id, l.post_id) > (?, ?) AND l.created_at >= ? AND p.deleted_at IS NULL"
    " ORDER BY l.account_id, l.post_id LIMIT ?"
)
_REPOSTS_AND_REPLIES_SINCE = (
    "SELECT e.author_id, s.id, s.author_id, CASE WHEN e.repost_of_id IS NULL"
    f" THEN {int(EngagementKind.REPLY)} ELSE {int(EngagementKind.REPOST)} END,"
    " e.created_at, e.id"
    " FROM posts AS e JOIN posts AS s ON s.id = COALESCE(e.repost_of_id, e.reply_to_id)"
    " WHERE e.id > ? AND e.created_at >= ? AND e.deleted_at IS NULL AND s.deleted_at IS NULL"
    f" AND e.visibility IN ({OPEN_VISIBILITIES})"
    " ORDER BY e.id LIMIT ?"
)
