"""Status entities, rendered a page at a time.

A page costs a fixed number of lookups whatever its length: one get_posts for the sources
of reposts (only when there are reposts), one get_accounts for every author and mentioned
account, one counters read per count and one viewer_state. While the cache is unavailable
the counts are the post rows' own, read afresh (the counts worker keeps them exact).
See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starling.api.render import Entity, account, iso_time
from starling.cache.base import Counters
from starling.cache.errors import CacheUnavailable, degraded
from starling.display import approximate
from starling.errors import NotFound
from starling.model import FAVOURITES, REBLOGS, Account, Post, ViewerState
from starling.store.base import Store
from starling.text import to_html


class Renderer:
    """Renders statuses from the store, the counters and the instance's public URL."""

    def __init__(self, store: Store, counters: Counters, base_url: str) -> None:
        self.store = store
        self.counters = counters
        self.base_url = base_url

    def statuses(self, posts: Sequence[Post], viewer_id: int | None) -> list[Entity]:
        """Entities for posts, in order; reposts whose original is gone are left out."""
        batch = self._load(posts, viewer_id)
        return [batch.status(post) for post in posts if batch.complete(post)]

    def status(self, post: Post, viewer_id: int | None) -> Entity:
        """One post's entity; a repost whose original is gone is not found."""
        rendered = self.statuses([post], viewer_id)
        if not rendered:
            raise NotFound("Record not found")
        return rendered[0]

    def _load(self, posts: Sequence[Post], viewer_id: int | None) -> _Batch:
        by_id = {post.id: post for post in posts}
        missing = {p.repost_of_id for p in posts if p.repost_of_id is not None} - by_id.keys()
        if missing:
            by_id |= self.store.get_posts(sorted(missing))
        people = {p.author_id for p in by_id.values()}
        people |= {m for p in by_id.values() for m in p.mentions}
        ids = sorted(by_id)
        favourites, reblogs = self._counts(ids)
        return _Batch(
            base=self.base_url,
            posts=by_id,
            accounts=self.store.get_accounts(sorted(people)),
            favourites=favourites,
            reblogs=reblogs,
            state=self.store.viewer_state(viewer_id, ids)
            if viewer_id is not None
            else ViewerState(),
        )

    def _counts(self, ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
        """Favourites and reblogs from the sharded counters; without the cache, from the
        post rows, read again since the page's posts may predate the write being answered."""
        try:
            return self.counters.get(FAVOURITES, ids), self.counters.get(REBLOGS, ids)
        except CacheUnavailable as exc:
            degraded("render_counts", exc)
        rows = self.store.get_posts(ids).values()
        return {p.id: p.favourites_count for p in rows}, {p.id: p.reblogs_count for p in rows}


@dataclass(slots=True)
class _Batch:
    base: str
    posts: dict[int, Post]
    accounts: dict[int, Account]
    favourites: dict[int, int]
    reblogs: dict[int, int]
    state: ViewerState
    # Each account's entity is built once per page, however many of its posts it holds.
    rendered: dict[int, Entity] = field(default_factory=dict)

    def complete(self, post: Post) -> bool:
        if post.author_id not in self.accounts:
            return False
        if post.repost_of_id is None:
            return True
        source = self.posts.get(post.repost_of_id)
        return source is not None and source.deleted_at is None and self.complete(source)

    def status(self, post: Post) -> Entity:
        author = self.accounts[post.author_id]
        source = self.posts[post.repost_of_id] if post.repost_of_id is not None else None
        path = f"{self.base}/users/{author.username}/statuses/{post.id}"
        favourites = max(self.favourites.get(post.id, post.favourites_count), 0)
        reblogs = max(self.reblogs.get(post.id, post.reblogs_count), 0)
        return {
            "id": str(post.id),
            "uri": path if source is None else f"{path}/activity",
            "url": f"{self.base}/@{author.username}/{post.id}",
            "created_at": iso_time(post.created_at),
            "edited_at": None,
            "account": self._account(author),
            "content": "" if source is not None else to_html(post.text, self.base),
            "visibility": post.visibility,
            "sensitive": post.sensitive,
            "spoiler_text": post.spoiler_text,
            "language": post.language,
            "in_reply_to_id": _str_or_none(post.reply_to_id),
            "in_reply_to_account_id": _str_or_none(post.reply_to_account_id),
            "reblog": self.status(source) if source is not None else None,
            "replies_count": post.replies_count,
            "reblogs_count": reblogs,
            "favourites_count": favourites,
            "favourited": post.id in self.state.liked,
            "reblogged": post.id in self.state.reposted,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "mentions": self._mentions(post),
            "tags": [{"name": tag, "url": f"{self.base}/tags/{tag}"} for tag in post.hashtags],
            "emojis": [],
            "media_attachments": [],
            "card": None,
            "poll": None,
            "filtered": [],
            # An extension object, as Pleroma's: clients that do not know it ignore it.
            "starling": {
                "favourites_display": approximate(favourites),
                "reblogs_display": approximate(reblogs),
            },
        }

    def _account(self, record: Account) -> Entity:
        entity = self.rendered.get(record.id)
        if entity is None:
            entity = self.rendered[record.id] = account(record, self.base)
        return entity

    def _mentions(self, post: Post) -> list[Entity]:
        found = (self.accounts[m] for m in post.mentions if m in self.accounts)
        return [
            {
                "id": str(person.id),
                "username": person.username,
                "acct": person.username,
                "url": f"{self.base}/@{person.username}",
            }
            for person in found
        ]


def _str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)
