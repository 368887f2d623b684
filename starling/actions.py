"""The actions layer: every write in Starling goes through here.

Each action validates, commits to the store and appends its event to the log in the same
transaction (`Transaction.emit`), then returns. Derived state (timelines, indexes, counts)
is built by workers from the log. The HTTP layer never writes directly.

The commit is the acknowledgement: cache work after it (counters, the repost set, the
idempotency record, draining workers in sync mode) is best effort while the cache is
unavailable, and the cache gates before it fall back to the store's own records.
See docs/subsystems/actions.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starling import auth, text
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, best_effort, degraded
from starling.config import Settings
from starling.errors import Forbidden, Invalid, NotFound
from starling.events import (
    AccountCreated,
    BlockCreated,
    BlockDeleted,
    FollowCreated,
    FollowDeleted,
    LikeCreated,
    LikeDeleted,
    MuteCreated,
    MuteDeleted,
    PostCreated,
    PostDeleted,
)
from starling.ids import IdGenerator, ms_of, now_ms
from starling.model import FAVOURITES, REBLOGS, Account, App, Block, Follow, Mute, Post, Token
from starling.store.base import Conflict, Store, Transaction
from starling.visibility import VISIBILITIES, may_repost

IDEMPOTENCY_TTL_S = 24 * 3600
IDEMPOTENCY_TTL_MS = IDEMPOTENCY_TTL_S * 1000
# A claim outlives its request only this long, so a crash mid-request frees the key soon.
IDEMPOTENCY_CLAIM_TTL_S = 60
IDEMPOTENCY_WAIT_S = 10.0
MAX_MENTIONS = 20


class Actions:
    def __init__(
        self,
        store: Store,
        cache: CacheBackends,
        ids: IdGenerator,
        settings: Settings,
        *,
        after_write: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.ids = ids
        self.settings = settings
        self._after_write_hook = after_write or (lambda: None)

    # Accounts and auth

    def register(
        self,
        username: str,
        password: str | None,
        *,
        email: str | None = None,
        display_name: str = "",
        bot: bool = False,
        region: str = "",
    ) -> Account:
        if not text.USERNAME_RE.match(username):
            raise Invalid("Validation failed: Username must be 1-30 letters, digits or _")
        if password is not None and len(password) < 8:
            raise Invalid("Validation failed: Password is too short (minimum is 8 characters)")
        if email is not None and not text.EMAIL_RE.match(email):
            raise Invalid("Validation failed: Email is invalid")
        account_id = self.ids.next_id()
        now = ms_of(account_id)
        account = Account(
            id=account_id,
            username=username,
            display_name=display_name or username,
            created_at=now,
            bot=bot,
            region=region,
            last_active_at=now,
        )
        password_hash = auth.hash_password(password) if password is not None else None
        try:
            with self.store.transaction() as tx:
                tx.insert_account(account, password_hash, email)
                tx.emit(AccountCreated.of(account))
        except Conflict:
            taken = "Email" if email and self.store.get_account_by_email(email) else "Username"
            raise Invalid(f"Validation failed: {taken} has already been taken") from None
        self._after_write()
        return account

    def create_app(self, name: str, redirect_uris: str, scopes: str, website: str | None) -> App:
        if not name.strip():
            raise Invalid("Validation failed: Application name can't be blank")
        secret = auth.new_secret()
        app = App(
            id=self.ids.next_id(),
            client_id=auth.new_secret(),
            client_secret=secret,
            name=name,
            redirect_uris=redirect_uris or "urn:ietf:wg:oauth:2.0:oob",
            scopes=scopes or "read",
            website=website,
        )
        stored = App(
            id=app.id,
            client_id=app.client_id,
            client_secret=auth.hash_secret(secret),
            name=app.name,
            redirect_uris=app.redirect_uris,
            scopes=app.scopes,
            website=app.website,
        )
        with self.store.transaction() as tx:
            tx.insert_app(stored)
        return app

    @staticmethod
    def app_secret_matches(app: App, secret: str) -> bool:
        """`app` as read from the store, whose client_secret is a hash."""
        return auth.secret_matches(app.client_secret, secret)

    def issue_token(self, app_id: int, account_id: int | None, scopes: str) -> str:
        token = auth.new_secret()
        record = Token(auth.hash_secret(token), app_id, account_id, scopes, now_ms())
        with self.store.transaction() as tx:
            tx.insert_token(record)
        return token

    def revoke_token(self, token_hash: str) -> None:
        with self.store.transaction() as tx:
            tx.delete_token(token_hash)

    # Posts

    def post(
        self,
        author_id: int,
        body: str,
        *,
        reply_to_id: int | None = None,
        visibility: str = "public",
        language: str | None = None,
        spoiler_text: str = "",
        sensitive: bool = False,
        idempotency_key: str | None = None,
    ) -> Post:
        def create() -> Post:
            return self._create_post(
                author_id,
                body,
                reply_to_id,
                visibility,
                language,
                spoiler_text,
                sensitive,
                idempotency_key,
            )

        if idempotency_key is None:
            return create()
        return self._idempotent(f"post:{author_id}:{idempotency_key}", create)

    def _create_post(
        self,
        author_id: int,
        body: str,
        reply_to_id: int | None,
        visibility: str,
        language: str | None,
        spoiler_text: str,
        sensitive: bool,
        idempotency_key: str | None,
    ) -> Post:
        try:
            normalized = text.normalize(body)
        except text.TextError as exc:
            raise Invalid(str(exc)) from None
        if visibility not in VISIBILITIES:
            raise Invalid(f"Validation failed: Visibility must be one of {', '.join(VISIBILITIES)}")
        author = self._account(author_id)
        reply_to_account_id = None
        if reply_to_id is not None:
            parent = self._live_post(reply_to_id)
            reply_to_account_id = parent.author_id
        post_id = self.ids.next_id()
        post = Post(
            id=post_id,
            author_id=author_id,
            text=normalized,
            created_at=ms_of(post_id),
            reply_to_id=reply_to_id,
            reply_to_account_id=reply_to_account_id,
            hashtags=tuple(text.hashtags(normalized)),
            mentions=self._mentioned_ids(normalized),
            language=language,
            visibility=visibility,
            spoiler_text=spoiler_text,
            sensitive=sensitive,
        )
        try:
            with self.store.transaction() as tx:
                if idempotency_key is not None:
                    made = tx.claim_idempotency_key(
                        author_id, idempotency_key, post.id, post.created_at, IDEMPOTENCY_TTL_MS
                    )
                    if made != post.id:
                        raise _Replayed(made)  # rolls the transaction back
                tx.insert_post(post)
                tx.emit(PostCreated.of(post, author, None))
        except _Replayed as replayed:
            return self._post(replayed.post_id)
        with best_effort("seed_counters"):
            for name in (FAVOURITES, REBLOGS):
                self.cache.counters.seed(name, post.id, 0)  # counted exactly from birth
        self._after_write()
        return post

    def _mentioned_ids(self, body: str) -> tuple[int, ...]:
        found = (self.store.get_account_by_username(n) for n in text.mentions(body)[:MAX_MENTIONS])
        return tuple(account.id for account in found if account is not None)

    def _idempotent(self, key: str, create: Callable[[], Post]) -> Post:
        """Seed Race Condition 3: one post per key, however many retries race. The cache
        record makes concurrent retries wait for the first and answers later ones without
        a write; the store's record (claimed in the post's own transaction) answers a
        retry whose cache record was lost (a crash right after the commit, a flushed or
        unreachable cache): the gate then is the store alone."""
        try:
            answered = self._reserve(key)
        except CacheUnavailable as exc:
            degraded("idempotency_gate", exc)
            return create()
        if answered is not None:
            return answered
        try:
            post = create()
        except BaseException:
            with best_effort("idempotency_release"):
                self.cache.idempotency.release(key)
            raise
        with best_effort("idempotency_complete"):
            self.cache.idempotency.complete(key, str(post.id), IDEMPOTENCY_TTL_S)
        return post

    def _reserve(self, key: str) -> Post | None:
        """Claims key in the cache (None: go ahead), or the post a finished request made."""
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
        while True:
            stored = self.cache.idempotency.reserve(key, IDEMPOTENCY_CLAIM_TTL_S)
            if stored is None:
                return None
            if stored:
                return self._post(int(stored))
            if time.monotonic() > deadline:
                raise Invalid("A request with this Idempotency-Key is still being processed")
            time.sleep(0.01)

    def delete(self, account_id: int, post_id: int) -> Post:
        post = self._live_post(post_id)
        if post.author_id != account_id:
            raise Forbidden("This action is not allowed")
        source = None if post.repost_of_id is None else self._post(post.repost_of_id)
        return self._tombstone(post, None if source is None else source.author_id)

    def _tombstone(self, post: Post, repost_of_author_id: int | None) -> Post:
        author = self._account(post.author_id)
        now = now_ms()
        with self.store.transaction() as tx:
            deleted = tx.tombstone_post(post.id, now)
            if deleted is None:
                raise NotFound("Record not found")
            tx.emit(PostDeleted.of(deleted, author, repost_of_author_id))
        if deleted.repost_of_id is not None:
            self._count(REBLOGS, deleted.repost_of_id, -1)
            with best_effort("repost_set"):
                self.cache.sets.discard(_reposts_set(deleted.author_id), deleted.repost_of_id)
        self._after_write()
        return deleted

    # Graph

    def follow(self, follower_id: int, followee_id: int, *, notify: bool = False) -> None:
        if follower_id == followee_id:
            raise Invalid("Validation failed: You cannot follow yourself")
        self._account(followee_id)
        edge = self.store.relationships(follower_id, [followee_id])[0]
        if edge.blocking or edge.blocked_by:
            raise Forbidden("This action is not allowed")  # as Mastodon, either way
        now = now_ms()
        with self.store.transaction() as tx:
            if tx.insert_follow(Follow(follower_id, followee_id, now, notify)):
                tx.emit(FollowCreated(follower_id, followee_id, now))
        self._after_write()

    def unfollow(self, follower_id: int, followee_id: int) -> None:
        self._account(followee_id)
        now = now_ms()
        with self.store.transaction() as tx:
            if tx.delete_follow(follower_id, followee_id):
                tx.emit(FollowDeleted(follower_id, followee_id, now))
        self._after_write()

    # Blocks and mutes

    def block(self, account_id: int, target_id: int) -> None:
        """Blocks the target and, as Mastodon does, ends the follows both ways."""

        def write(tx: Transaction, now: int) -> None:
            for follower, followee in ((account_id, target_id), (target_id, account_id)):
                if tx.delete_follow(follower, followee):
                    tx.emit(FollowDeleted(follower, followee, now))
            if tx.insert_block(Block(account_id, target_id, self.ids.next_id())):
                tx.emit(BlockCreated(account_id, target_id, now))

        self._between(account_id, target_id, write)

    def unblock(self, account_id: int, target_id: int) -> None:
        def write(tx: Transaction, now: int) -> None:
            if tx.delete_block(account_id, target_id):
                tx.emit(BlockDeleted(account_id, target_id, now))

        self._between(account_id, target_id, write)

    def mute(
        self, account_id: int, target_id: int, *, notifications: bool = True, duration_s: int = 0
    ) -> None:
        """Mutes the target for duration_s seconds (0: until unmuted); muting again
        changes the settings (and emits them, when they change). With notifications, the
        target's are hidden too."""
        if duration_s < 0:
            raise Invalid("Validation failed: Duration must be 0 or more seconds")

        def write(tx: Transaction, now: int) -> None:
            expires_at = now + duration_s * 1000 if duration_s else None
            mute = Mute(account_id, target_id, self.ids.next_id(), notifications, expires_at)
            if tx.insert_mute(mute, now):
                tx.emit(MuteCreated(account_id, target_id, now, notifications, expires_at))

        self._between(account_id, target_id, write)

    def unmute(self, account_id: int, target_id: int) -> None:
        def write(tx: Transaction, now: int) -> None:
            if tx.delete_mute(account_id, target_id, now):
                tx.emit(MuteDeleted(account_id, target_id, now))

        self._between(account_id, target_id, write)

    def _between(
        self, account_id: int, target_id: int, write: Callable[[Transaction, int], None]
    ) -> None:
        """Commits a block or mute change; one toward oneself does nothing, as in Mastodon."""
        self._account(target_id)
        if account_id == target_id:
            return
        with self.store.transaction() as tx:
            write(tx, now_ms())
        self._after_write()

    # Engagements

    def like(self, account_id: int, post_id: int) -> Post:
        post = self._source_of(self._live_post(post_id))
        now = now_ms()
        with self.store.transaction() as tx:
            created = tx.insert_like(account_id, post.id, now)
            if created:
                tx.emit(LikeCreated(post.id, post.author_id, account_id, now))
        if created:
            self._count(FAVOURITES, post.id, 1)
            self._after_write()
        return post

    def unlike(self, account_id: int, post_id: int) -> Post:
        post = self._source_of(self._post(post_id))
        now = now_ms()
        with self.store.transaction() as tx:
            removed = tx.delete_like(account_id, post.id)
            if removed:
                tx.emit(LikeDeleted(post.id, post.author_id, account_id, now))
        if removed:
            self._count(FAVOURITES, post.id, -1)
            self._after_write()
        return post

    def repost(self, account_id: int, post_id: int) -> Post:
        """Seed Race Condition 4: an atomic check-and-set makes rapid repeats one repost.

        The cache set is the fast gate; the store's unique index on live (author, source)
        reposts is the authority, so a stale set after a restart cannot let a double in.
        """
        source = self._source_of(self._live_post(post_id))
        if not may_repost(source.visibility):
            raise Forbidden("This action is not allowed")
        author = self._account(account_id)
        if not self._first_repost(account_id, source.id):
            existing = self.store.reposts_of([source.id], [account_id])
            if existing:
                return existing[0]
        repost_id = self.ids.next_id()
        repost = Post(
            id=repost_id,
            author_id=account_id,
            text="",
            created_at=ms_of(repost_id),
            repost_of_id=source.id,
            visibility=source.visibility,
        )
        try:
            with self.store.transaction() as tx:
                tx.insert_post(repost)
                tx.emit(PostCreated.of(repost, author, source.author_id))
        except Conflict:
            return self.store.reposts_of([source.id], [account_id])[0]
        self._count(REBLOGS, source.id, 1)
        self._after_write()
        return repost

    def unrepost(self, account_id: int, post_id: int) -> Post:
        source = self._source_of(self._post(post_id))
        for repost in self.store.reposts_of([source.id], [account_id]):
            self._tombstone(repost, source.author_id)
        return source

    def _first_repost(self, account_id: int, source_id: int) -> bool:
        """The fast gate: False when the cache set says the account already reposted it
        (then the store is asked); without the cache, always ask the store."""
        try:
            return self.cache.sets.add(_reposts_set(account_id), source_id)
        except CacheUnavailable as exc:
            degraded("repost_gate", exc)
            return False

    def _count(self, name: str, post_id: int, delta: int) -> None:
        """Seed Race Condition 1: bumps a sharded counter after the commit. A cold counter
        (the in-process cache restarted, or the post was loaded in bulk) starts instead
        from the store's exact total, which already holds this change; reconciliation
        (workers/counts.py) mends the rare race between two such starts. Without the
        cache the bump is skipped: readers fall back to the stored counts, which the
        counts worker recomputes, and it corrects the counter once the cache is back."""
        with best_effort("counters"):
            self._bump(name, post_id, delta)

    def _bump(self, name: str, post_id: int, delta: int) -> None:
        if post_id in self.cache.counters.get(name, [post_id]):
            self.cache.counters.incr(name, post_id, delta)
            return
        exact = self.store.like_counts if name == FAVOURITES else self.store.repost_counts
        self.cache.counters.seed(name, post_id, exact([post_id])[post_id])

    def _after_write(self) -> None:
        """The hook run after each commit (sync mode drains the workers): a worker that
        cannot reach the cache keeps its events and retries; the write stands."""
        with best_effort("after_write"):
            self._after_write_hook()

    # Lookups

    def _post(self, post_id: int) -> Post:
        post = self.store.get_posts([post_id]).get(post_id)
        if post is None:
            raise NotFound("Record not found")
        return post

    def _live_post(self, post_id: int) -> Post:
        post = self._post(post_id)
        if post.deleted_at is not None:
            raise NotFound("Record not found")
        return post

    def _source_of(self, post: Post) -> Post:
        return post if post.repost_of_id is None else self._live_post(post.repost_of_id)

    def _account(self, account_id: int) -> Account:
        account = self.store.get_accounts([account_id]).get(account_id)
        if account is None:
            raise NotFound("Record not found")
        return account


class _Replayed(Exception):
    """An Idempotency-Key the store already holds: answer with the post it made."""

    def __init__(self, post_id: int) -> None:
        super().__init__(post_id)
        self.post_id = post_id


def _reposts_set(account_id: int) -> str:
    return f"user_reposts:{account_id}"
