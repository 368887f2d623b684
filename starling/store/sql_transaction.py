"""The writes of one transaction (store.base.Transaction), written once for every SQL
backend; each backend adds `emit`, the append to its outbox. See docs/subsystems/store.md.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable

from starling.events import Event, to_payload
from starling.model import Account, App, Block, Follow, Mute, Post, Token
from starling.store.dialect import Dialect
from starling.store.rows import (
    INSERT_ACCOUNT,
    INSERT_BLOCK,
    INSERT_FOLLOW,
    INSERT_LIKE,
    INSERT_MUTE,
    INSERT_POST,
    LIVE,
    POST_COLUMNS,
    account_row,
    block_row,
    follow_row,
    mute_row,
    post_from_row,
    post_row,
)
from starling.store.sql import Sql
from starling.store.sql_campaigns import SqlCampaignWrites


class SqlTransaction(SqlCampaignWrites, ABC):
    """`emitted` tells the store whether to run its on_commit hook."""

    def __init__(self, sql: Sql, dialect: Dialect) -> None:
        self._sql = sql
        self._greatest = dialect.greatest
        self.emitted = False

    def insert_account(
        self, account: Account, password_hash: str | None, email: str | None = None
    ) -> None:
        self._sql.run(INSERT_ACCOUNT, account_row(account, password_hash, email))

    def insert_post(self, post: Post) -> None:
        self._sql.run(INSERT_POST, post_row(post))
        self._sql.run(
            "UPDATE accounts SET statuses_count = statuses_count + 1,"
            f" last_status_at = {self._greatest}(COALESCE(last_status_at, 0), ?) WHERE id = ?",
            (post.created_at, post.author_id),
        )
        self._bump_replies(post.reply_to_id, 1)

    def tombstone_post(self, post_id: int, deleted_at: int) -> Post | None:
        row = self._sql.one(
            f"UPDATE posts SET deleted_at = ? WHERE id = ? AND {LIVE} RETURNING {POST_COLUMNS}",
            (deleted_at, post_id),
        )
        if row is None:
            return None
        post = post_from_row(row)
        self._sql.run(
            f"UPDATE accounts SET statuses_count = {self._greatest}(statuses_count - 1, 0)"
            " WHERE id = ?",
            (post.author_id,),
        )
        self._bump_replies(post.reply_to_id, -1)
        return post

    def _bump_replies(self, parent_id: int | None, delta: int) -> None:
        if parent_id is not None:
            self._sql.run(
                f"UPDATE posts SET replies_count = {self._greatest}(replies_count + ?, 0)"
                " WHERE id = ?",
                (delta, parent_id),
            )

    def insert_follow(self, follow: Follow) -> bool:
        if self._sql.run(INSERT_FOLLOW, follow_row(follow)) == 0:
            # Following again is how a client turns notifications on or off (Mastodon).
            self._sql.run(
                "UPDATE follows SET notify = ? WHERE follower_id = ? AND followee_id = ?",
                (int(follow.notify), follow.follower_id, follow.followee_id),
            )
            return False
        self._bump_follow_counts(follow.follower_id, follow.followee_id, 1)
        return True

    def delete_follow(self, follower_id: int, followee_id: int) -> bool:
        deleted = self._sql.run(
            "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
            (follower_id, followee_id),
        )
        if deleted == 0:
            return False
        self._bump_follow_counts(follower_id, followee_id, -1)
        return True

    def _bump_follow_counts(self, follower_id: int, followee_id: int, delta: int) -> None:
        for column, account_id in (
            ("following_count", follower_id),
            ("followers_count", followee_id),
        ):
            self._sql.run(
                f"UPDATE accounts SET {column} = {self._greatest}({column} + ?, 0) WHERE id = ?",
                (delta, account_id),
            )

    def insert_block(self, block: Block) -> bool:
        return self._sql.run(INSERT_BLOCK, block_row(block)) == 1

    def delete_block(self, account_id: int, target_id: int) -> bool:
        sql = "DELETE FROM blocks WHERE account_id = ? AND target_id = ?"
        return self._sql.run(sql, (account_id, target_id)) == 1

    def insert_mute(self, mute: Mute, now: int) -> bool:
        # An expired mute is no mute: it makes way for a new one, with a new place in the list.
        pair = (mute.account_id, mute.target_id)
        self._sql.run(
            "DELETE FROM mutes WHERE account_id = ? AND target_id = ? AND expires_at <= ?",
            (*pair, now),
        )
        if self._sql.run(INSERT_MUTE, mute_row(mute)) == 1:
            return True
        settings = (int(mute.notifications), mute.expires_at)
        changed = self._sql.run(
            "UPDATE mutes SET notifications = ?, expires_at = ?"
            " WHERE account_id = ? AND target_id = ?"
            " AND (notifications <> ? OR COALESCE(expires_at, -1) <> COALESCE(?, -1))",
            (*settings, *pair, *settings),
        )
        return changed == 1

    def delete_mute(self, account_id: int, target_id: int, now: int) -> bool:
        row = self._sql.one(
            "DELETE FROM mutes WHERE account_id = ? AND target_id = ? RETURNING expires_at",
            (account_id, target_id),
        )
        return row is not None and (row[0] is None or row[0] > now)

    def insert_like(self, account_id: int, post_id: int, created_at: int) -> bool:
        return self._sql.run(INSERT_LIKE, (account_id, post_id, created_at)) == 1

    def delete_like(self, account_id: int, post_id: int) -> bool:
        sql = "DELETE FROM likes WHERE account_id = ? AND post_id = ?"
        return self._sql.run(sql, (account_id, post_id)) == 1

    def claim_idempotency_key(
        self, account_id: int, key: str, post_id: int, now: int, ttl_ms: int
    ) -> int:
        self._sql.run(
            "INSERT INTO idempotency_keys (account_id, key, post_id, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE"
            " SET post_id = excluded.post_id, created_at = excluded.created_at"
            " WHERE idempotency_keys.created_at < ?",
            (account_id, key, post_id, now, now - ttl_ms),
        )
        sql = "SELECT post_id FROM idempotency_keys WHERE account_id = ? AND key = ?"
        return int(self._sql.one(sql, (account_id, key))[0])

    def insert_app(self, app: App) -> None:
        a = app
        self._sql.run(
            "INSERT INTO apps (id, client_id, client_secret, name, redirect_uris, scopes,"
            " website) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.client_id, a.client_secret, a.name, a.redirect_uris, a.scopes, a.website),
        )

    def delete_token(self, token_hash: str) -> None:
        self._sql.run("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))

    def insert_token(self, token: Token) -> None:
        t = token
        self._sql.run(
            "INSERT INTO tokens (token_hash, app_id, account_id, scopes, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (t.token_hash, t.app_id, t.account_id, t.scopes, t.created_at),
        )

    def set_last_active(self, account_id: int, ts: int) -> None:
        # GREATEST: concurrent requests may finish out of order; activity never moves back.
        self._sql.run(
            f"UPDATE accounts SET last_active_at = {self._greatest}(last_active_at, ?)"
            " WHERE id = ?",
            (ts, account_id),
        )

    def set_post_counts(self, counts: Iterable[tuple[int, int, int]]) -> None:
        self._sql.many(
            "UPDATE posts SET favourites_count = ?, reblogs_count = ? WHERE id = ?",
            ((likes, reposts, post_id) for post_id, likes, reposts in counts),
        )

    def emit(self, event: Event) -> None:
        """Appends an event to the log; it becomes visible when the transaction commits."""
        self._append(event.TYPE, json.dumps(to_payload(event), separators=(",", ":")), event.ts)
        self.emitted = True

    @abstractmethod
    def _append(self, event_type: str, payload: str, ts: int) -> None:
        """Inserts one event (payload already JSON) into this transaction's outbox."""
