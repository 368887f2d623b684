"""The writes of one SQLite transaction (store.base.Transaction). See docs/subsystems/store.md."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from starling.events import Event, to_payload
from starling.model import Account, App, Follow, Post, Token
from starling.store.sqlite_rows import (
    INSERT_ACCOUNT,
    INSERT_FOLLOW,
    INSERT_LIKE,
    INSERT_POST,
    LIVE,
    POST_COLUMNS,
    account_row,
    follow_row,
    post_from_row,
    post_row,
    unique_is_conflict,
)


class SqliteTransaction:
    """The writes of one BEGIN IMMEDIATE transaction (see store.base.Transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.emitted = False

    def insert_account(
        self, account: Account, password_hash: str | None, email: str | None = None
    ) -> None:
        with unique_is_conflict():
            self._conn.execute(INSERT_ACCOUNT, account_row(account, password_hash, email))

    def insert_post(self, post: Post) -> None:
        with unique_is_conflict():
            self._conn.execute(INSERT_POST, post_row(post))
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
        post = post_from_row(row)
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
        if self._conn.execute(INSERT_FOLLOW, follow_row(follow)).rowcount == 0:
            # Following again is how a client turns notifications on or off (Mastodon).
            self._conn.execute(
                "UPDATE follows SET notify = ? WHERE follower_id = ? AND followee_id = ?",
                (int(follow.notify), follow.follower_id, follow.followee_id),
            )
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

    def claim_idempotency_key(
        self, account_id: int, key: str, post_id: int, now: int, ttl_ms: int
    ) -> int:
        self._conn.execute(
            "INSERT INTO idempotency_keys (account_id, key, post_id, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE"
            " SET post_id = excluded.post_id, created_at = excluded.created_at"
            " WHERE idempotency_keys.created_at < ?",
            (account_id, key, post_id, now, now - ttl_ms),
        )
        sql = "SELECT post_id FROM idempotency_keys WHERE account_id = ? AND key = ?"
        return int(self._conn.execute(sql, (account_id, key)).fetchone()[0])

    def insert_app(self, app: App) -> None:
        a = app
        with unique_is_conflict():
            self._conn.execute(
                "INSERT INTO apps (id, client_id, client_secret, name, redirect_uris, scopes,"
                " website) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.id, a.client_id, a.client_secret, a.name, a.redirect_uris, a.scopes, a.website),
            )

    def delete_token(self, token_hash: str) -> None:
        self._conn.execute("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))

    def insert_token(self, token: Token) -> None:
        t = token
        with unique_is_conflict():
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

    def emit(self, event: Event) -> None:
        self._conn.execute(
            "INSERT INTO events (type, payload, ts) VALUES (?, ?, ?)",
            (event.TYPE, json.dumps(to_payload(event), separators=(",", ":")), event.ts),
        )
        self.emitted = True
