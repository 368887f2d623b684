"""Fan-out worker: puts new posts into home timelines (seed: Deep Dive 2, hybrid fan-out).

Below the celebrity threshold a post is pushed into the timelines of the author's
recently active followers, one cache round trip per chunk of followers. At or above it,
the post goes to the celebrity index only, plus a push to the (at most 10,000) followers
who turned notifications on; everyone else pulls it at read time (home.py).
See docs/subsystems/fanout.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from starling import metrics
from starling.cache.backends import CELEBRITY_POSTS_KEPT, CacheBackends
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.fanout_policy import HOUR_MS, ThresholdPolicy
from starling.ids import id_at, now_ms
from starling.model import Event
from starling.store.base import IdArray, Store
from starling.workers.base import Worker


@dataclass(frozen=True)
class Fanned:
    """What fan-out did with one post, for tests and benchmarks."""

    post_id: int
    pulled: bool
    timeline_writes: int


class FanoutWorker(Worker):
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
            if post.visibility != "direct":
                self.cache.celebrities.add(post.author_id, post.id)
        return len(posts)

    def apply(self, events: list[Event]) -> None:
        created = [e.payload for e in events if e.type == "post.created"]
        authors = self.store.get_accounts({int(str(p["author_id"])) for p in created})
        threshold = self.policy.current()  # once per batch: it reads the backlog
        for payload in created:
            author = authors.get(int(str(payload["author_id"])))
            if author is not None:
                self.fan_out(payload, author.followers_count, threshold)
        for event in events:
            if event.type == "post.deleted":
                self.cache.celebrities.remove(
                    _int(event.payload, "author_id"), _int(event.payload, "id")
                )
        metrics.FANOUT_BACKLOG.set(self.log.last_offset() - events[-1].offset)

    def fan_out(
        self, payload: Mapping[str, object], followers_count: int, threshold: int
    ) -> Fanned:
        post_id = _int(payload, "id")
        author_id = _int(payload, "author_id")
        repost_of = payload.get("repost_of_id")
        source_id = post_id if repost_of is None else int(str(repost_of))
        writes = self.cache.timelines.push(self._own_and_mentioned(payload), post_id, source_id)
        pulled = False
        if payload.get("visibility") != "direct":
            pulled = self.policy.is_celebrity(
                followers_count, threshold, lambda: self._posts_last_hour(author_id)
            )
            if pulled:
                writes += self._index_celebrity_post(author_id, post_id, source_id)
            else:
                writes += self._push_to_followers(payload, author_id, post_id, source_id)
        metrics.FANOUT_TIMELINE_WRITES.inc(writes)
        metrics.POST_TO_TIMELINE_SECONDS.observe(
            max(0, now_ms() - _int(payload, "created_at")) / 1000
        )
        return Fanned(post_id, pulled, writes)

    def _index_celebrity_post(self, author_id: int, post_id: int, source_id: int) -> int:
        self.cache.celebrities.add(author_id, post_id)
        notify = self.store.notify_followers(author_id, self.settings.notify_push_limit)
        return self.cache.timelines.push(notify, post_id, source_id)

    def _push_to_followers(
        self, payload: Mapping[str, object], author_id: int, post_id: int, source_id: int
    ) -> int:
        active_since = self.settings.active_since()
        # Mastodon's rule: a reply to someone else reaches only followers of both.
        audience = self._reply_audience(payload, author_id)
        writes = 0
        for chunk in self.store.iter_follower_chunks(
            author_id, self.settings.fanout_chunk, active_since=active_since
        ):
            if audience is not None:
                chunk = chunk[np.isin(chunk, audience, assume_unique=True)]
            writes += self.cache.timelines.push(chunk, post_id, source_id)
        return writes

    def _reply_audience(self, payload: Mapping[str, object], author_id: int) -> IdArray | None:
        target = payload.get("reply_to_account_id")
        if target is None or int(str(target)) == author_id:
            return None
        return self.store.followers(int(str(target)))

    def _own_and_mentioned(self, payload: Mapping[str, object]) -> list[int]:
        own = [_int(payload, "author_id")]
        if payload.get("visibility") != "direct":
            return own
        mentioned = payload.get("mentions")
        return (
            own + [m for m in mentioned if isinstance(m, int)]
            if isinstance(mentioned, list)
            else own
        )

    def _posts_last_hour(self, author_id: int) -> int:
        return self.store.count_posts_since(author_id, id_at(now_ms() - HOUR_MS))


def _int(payload: Mapping[str, object], key: str) -> int:
    return int(str(payload[key]))
