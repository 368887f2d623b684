"""Fan-out worker: puts new posts into home timelines (seed: Deep Dive 2, hybrid fan-out).

Below the celebrity threshold a post is pushed into the timelines of the author's
recently active followers, one cache round trip per chunk of followers. At or above it,
the post goes to the celebrity index only, plus a push to the (at most 10,000) followers
who turned notifications on; everyone else pulls it at read time (home.py).
See docs/subsystems/fanout.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starling import metrics
from starling.cache.backends import CELEBRITY_POSTS_KEPT, CacheBackends
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.events import Event, PostCreated, PostDeleted
from starling.fanout_policy import HOUR_MS, ThresholdPolicy
from starling.ids import id_at, now_ms
from starling.store.base import IdArray, Store
from starling.visibility import reaches_followers
from starling.workers.base import EventWorker


@dataclass(frozen=True)
class Fanned:
    """What fan-out did with one post, for tests and benchmarks."""

    post_id: int
    pulled: bool
    timeline_writes: int


class FanoutWorker(EventWorker):
    name = "fanout"

    def __init__(
        self,
        log: EventLog,
        store: Store,
        cache: CacheBackends,
        policy: ThresholdPolicy,
        settings: Settings,
    ) -> None:
        super().__init__(log)
        self.store = store
        self.cache = cache
        self.policy = policy
        self.settings = settings

    def warm_celebrity_index(self) -> int:
        """Fills an empty celebrity index (an in-process cache after a restart) with the
        recent posts of authors over the threshold; returns how many posts it indexed."""
        celebrities = self.store.accounts_with_followers(self.policy.current())
        posts = self.store.latest_posts_by_authors(celebrities.tolist(), CELEBRITY_POSTS_KEPT)
        for post in posts:
            if reaches_followers(post.visibility):
                self.cache.celebrities.add(post.author_id, post.id)
        return len(posts)

    def apply(self, events: list[Event]) -> None:
        created = [e for e in events if isinstance(e, PostCreated)]
        authors = self.store.get_accounts({e.author_id for e in created})
        threshold = self.policy.current()  # once per batch: it reads the backlog
        for post in created:
            author = authors.get(post.author_id)
            if author is not None:
                self.fan_out(post, author.followers_count, threshold)
        for event in events:
            if isinstance(event, PostDeleted):
                self.cache.celebrities.remove(event.author_id, event.id)

    def fan_out(self, post: PostCreated, followers_count: int, threshold: int) -> Fanned:
        writes = self.cache.timelines.push(_own_and_addressed(post), post.id, post.source_id)
        pulled = False
        if reaches_followers(post.visibility):
            pulled = self.policy.is_celebrity(
                followers_count, threshold, lambda: self._posts_last_hour(post.author_id)
            )
            if pulled:
                writes += self._index_celebrity_post(post)
            else:
                writes += self._push_to_followers(post)
        metrics.FANOUT_TIMELINE_WRITES.inc(writes)
        metrics.POST_TO_TIMELINE_SECONDS.observe(max(0, now_ms() - post.created_at) / 1000)
        return Fanned(post.id, pulled, writes)

    def _index_celebrity_post(self, post: PostCreated) -> int:
        self.cache.celebrities.add(post.author_id, post.id)
        notify = self.store.notify_followers(post.author_id, self.settings.notify_push_limit)
        return self.cache.timelines.push(notify, post.id, post.source_id)

    def _push_to_followers(self, post: PostCreated) -> int:
        active_since = self.settings.active_since()
        # Mastodon's rule: a reply to someone else reaches only followers of both.
        audience = self._reply_audience(post)
        writes = 0
        for chunk in self.store.iter_follower_chunks(
            post.author_id, self.settings.fanout_chunk, active_since=active_since
        ):
            if audience is not None:
                chunk = chunk[np.isin(chunk, audience, assume_unique=True)]
            writes += self.cache.timelines.push(chunk, post.id, post.source_id)
        return writes

    def _reply_audience(self, post: PostCreated) -> IdArray | None:
        target = post.reply_to_account_id
        if target is None or target == post.author_id:
            return None
        return self.store.followers(target)

    def _posts_last_hour(self, author_id: int) -> int:
        return self.store.count_posts_since(author_id, id_at(now_ms() - HOUR_MS))


def _own_and_addressed(post: PostCreated) -> list[int]:
    """The author's own timeline, and for a direct post the mentioned accounts' too."""
    if reaches_followers(post.visibility):
        return [post.author_id]
    return [post.author_id, *post.mentions]
