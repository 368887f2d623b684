"""The store-of-record interface. SQLite is the embedded default; PostgreSQL scales out.

Every write happens inside `Store.transaction()`; the transaction's `emit` appends to the
event log in the same commit (a transactional outbox), so a crash can never keep a write
and lose its event, or the reverse. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np
import numpy.typing as npt

from starling.ads.campaign import Campaign
from starling.engagements import Engagements
from starling.events import Event
from starling.model import (
    Account,
    App,
    Block,
    Follow,
    Mute,
    Post,
    Relationship,
    Token,
    ViewerState,
)

IdArray = npt.NDArray[np.int64]


class StoreError(Exception):
    """Base of the errors a store raises on purpose."""


class Conflict(StoreError):
    """A uniqueness rule refused the write (username taken, post already reposted)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or would not answer in time (connection lost, server
    restarting, no pooled connection in time, SQLite locked beyond its busy timeout).
    Nothing was committed, except when the connection was lost waiting for COMMIT's
    answer: then the outcome is unknown. Either way the request may be retried (with its
    Idempotency-Key, for a post)."""


class Transaction(Protocol):
    """One atomic unit of writes. Nothing is visible to others until it commits."""

    def insert_account(
        self, account: Account, password_hash: str | None, email: str | None = None
    ) -> None:
        """Raises Conflict when the username or the e-mail (each case-insensitive) is taken."""

    def insert_post(self, post: Post) -> None:
        """Adds a post and bumps the author's statuses_count and last_status_at.

        Raises Conflict when post is a repost and the author already has a live repost
        of the same original (the atomic check-and-set of the seed's Race Condition 4).
        """

    def tombstone_post(self, post_id: int, deleted_at: int) -> Post | None:
        """Marks a live post deleted; returns it, or None when missing or already deleted."""

    def insert_follow(self, follow: Follow) -> bool:
        """False when already following (then only the notify choice is updated).
        Keeps followers/following counts in step."""

    def delete_follow(self, follower_id: int, followee_id: int) -> bool:
        """False when not following."""

    def insert_block(self, block: Block) -> bool:
        """False when already blocking (the block keeps its id)."""

    def delete_block(self, account_id: int, target_id: int) -> bool:
        """False when not blocking."""

    def insert_mute(self, mute: Mute, now: int) -> bool:
        """False when already muting with these settings. Muting again keeps the mute's
        id and takes the new notifications and expires_at (True when they differ); a mute
        expired by `now` is replaced whole."""

    def delete_mute(self, account_id: int, target_id: int, now: int) -> bool:
        """False when not muting (no mute, or one expired by `now`)."""

    def insert_like(self, account_id: int, post_id: int, created_at: int) -> bool:
        """False when already liked."""

    def delete_like(self, account_id: int, post_id: int) -> bool:
        """False when not liked."""

    def claim_idempotency_key(
        self, account_id: int, key: str, post_id: int, now: int, ttl_ms: int
    ) -> int:
        """Records that the account's key made post_id and returns post_id; or, when the
        key already made a post within ttl_ms, leaves it and returns that post's id."""

    def insert_app(self, app: App) -> None: ...

    def insert_token(self, token: Token) -> None: ...

    def delete_token(self, token_hash: str) -> None:
        """Revokes a token; a token that does not exist is already revoked."""

    def set_last_active(self, account_id: int, ts: int) -> None: ...

    def set_post_counts(self, counts: Iterable[tuple[int, int, int]]) -> None:
        """(post_id, favourites_count, reblogs_count) rows from the reconciliation job."""

    def insert_campaign(self, campaign: Campaign) -> None: ...

    def update_campaign_status(
        self, campaign_id: int, status: str, from_statuses: Sequence[str]
    ) -> Campaign | None:
        """Sets the status of a campaign whose status is one of from_statuses and returns
        it updated; None when it is missing or in another status."""

    def add_campaign_spend(self, amounts: Sequence[tuple[int, int]]) -> None:
        """(campaign_id, millicents) rows: adds each amount to its campaign's spend, one
        statement for all; a campaign that does not exist is skipped."""

    def emit(self, event: Event) -> None:
        """Appends an event to the log; it becomes visible when the transaction commits."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        """Runs callback after each commit in this process that emitted events (it wakes
        the outbox log's readers at once instead of at their next poll)."""

    # Accounts and auth
    def get_accounts(self, ids: Iterable[int]) -> dict[int, Account]: ...

    def account_counts(self, ids: Iterable[int]) -> IdArray:
        """(accounts found x 4): the id, followers, following and statuses counts of each
        account found, ascending by id (one column read for a batch, no records)."""

    def get_account_by_username(self, username: str) -> Account | None:
        """Case-insensitive."""

    def get_account_by_email(self, email: str) -> Account | None:
        """Case-insensitive."""

    def get_password_hash(self, account_id: int) -> str | None: ...

    def get_app(self, client_id: str) -> App | None: ...

    def get_app_by_id(self, app_id: int) -> App | None: ...

    def accounts_with_followers(self, at_least: int) -> IdArray:
        """Ids of accounts with at least this many followers (celebrity index warm-up)."""

    def get_token(self, token_hash: str) -> Token | None: ...

    # Posts
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        """Includes tombstoned posts (deleted_at set); callers filter."""

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
        """Live posts, newest first. With min_id: the `limit` posts just above it."""

    def public_posts(
        self,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 20,
    ) -> list[Post]:
        """Live public posts of all accounts, newest first, same paging as account_posts."""

    def latest_posts_by_authors(
        self, author_ids: Sequence[int], per_author: int, max_id: int | None = None
    ) -> list[Post]:
        """Up to per_author newest live posts (below max_id) of each author."""

    def iter_posts(self, after_id: int, chunk: int) -> Iterator[list[Post]]:
        """Every post above after_id, live and deleted (deleted_at set), in id order, in
        chunks of at most `chunk`; each chunk is its own short query. The source of
        search backfill and index rebuilds."""

    def post_ids_by_authors(self, author_ids: Sequence[int], since_id: int) -> IdArray:
        """Ids of live and deleted posts by these authors above since_id."""

    def count_posts_since(self, author_id: int, since_id: int) -> int: ...

    def totals(self) -> tuple[int, int]:
        """(accounts, live posts), for instance statistics."""

    def max_post_id(self) -> int:
        """0 when there are no posts."""

    # Graph
    def followers(self, account_id: int, *, active_since: int | None = None) -> IdArray:
        """Follower ids; with active_since only those active at or after that time."""

    def iter_follower_chunks(
        self, account_id: int, chunk: int, *, active_since: int | None = None
    ) -> Iterator[IdArray]:
        """Followers in chunks of at most `chunk`, for fan-out without loading all at once."""

    def iter_follows(self, chunk: int) -> Iterator[tuple[IdArray, IdArray]]:
        """Every follow edge as (follower ids, followee ids) columns, in chunks of at most
        `chunk`, each its own short query: the input of community detection."""

    def notify_followers(self, account_id: int, limit: int) -> IdArray:
        """Followers who turned notifications on for this account, at most limit."""

    def following(self, account_id: int) -> IdArray: ...

    def follows_since(self, account_id: int, since: int) -> list[int]:
        """Accounts this account started following at or after `since` (ms)."""

    def relationships(self, viewer_id: int, ids: Sequence[int]) -> list[Relationship]:
        """The viewer's follows, blocks and mutes to and from each of ids, in one query."""

    def hidden_authors(self, viewer_id: int, author_ids: Sequence[int]) -> set[int]:
        """Of these authors, those hidden from the viewer's timelines: blocked by the
        viewer, blocking the viewer, or muted (and the mute not expired); one query."""

    def blocks(
        self,
        account_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 40,
    ) -> list[Block]:
        """The account's blocks, newest first, paged by block id as account_posts."""

    def mutes(
        self,
        account_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 40,
    ) -> list[Mute]:
        """The account's unexpired mutes, newest first, paged by mute id."""

    # Engagements
    def viewer_state(self, viewer_id: int, post_ids: Sequence[int]) -> ViewerState: ...

    def reposts_of(self, source_ids: Sequence[int], by: Sequence[int]) -> list[Post]:
        """Live reposts of any of source_ids whose authors are in `by` (one query)."""

    def engagement_counts(self, viewer_id: int, author_ids: Sequence[int]) -> dict[int, int]:
        """How many of each author's posts the viewer liked or reposted."""

    def like_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        """Exact like totals from the store (truth for reconciliation)."""

    def repost_counts(self, post_ids: Sequence[int]) -> dict[int, int]:
        """Exact live repost totals from the store."""

    def iter_engagements(self, since: int, chunk: int) -> Iterator[Engagements]:
        """Engagements made at or after `since` (ms) with live posts, in chunks of at most
        `chunk`, each its own short query: likes in key order (account, post), then live
        reposts and open (public, unlisted) replies in id order. The source the real
        graph is rebuilt from on start."""

    # Promotion campaigns (starling/ads/)
    def get_campaigns(self, ids: Iterable[int]) -> dict[int, Campaign]: ...

    def campaigns(
        self, *, status: str | None = None, ending_after: int | None = None
    ) -> list[Campaign]:
        """Campaigns newest first; only those in `status`, ending after `ending_after`."""

    def campaign_spend(self, ids: Iterable[int]) -> dict[int, int]:
        """What each of these campaigns has spent, in millicents (missing ones absent)."""

    def recent_hashtags(self, account_id: int, limit: int) -> set[str]:
        """The hashtags of the account's latest `limit` live posts (a repost's original's)
        and of the live posts among its latest `limit` likes, in one query."""

    # Bulk loading for the simulated world (no events: the world is a snapshot)
    def bulk_load(
        self,
        *,
        accounts: Sequence[Account] = (),
        posts: Sequence[Post] = (),
        follows: Sequence[Follow] = (),
        likes: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        """Inserts rows as given (counts included); callers keep them consistent."""

    def close(self) -> None: ...
