"""Graph worker: keeps home timelines in step with follows (seed: Race Condition 2).

Follow: merge the followee's recent posts into the follower's timeline, as Mastodon does
(also for a pulled author: one timeline write, and it covers posts pushed before or after
the author was pulled). Unfollow: remove them. Reads stay
correct before this runs: the home timeline filters by the current follow set and
injects posts of accounts followed in the last five minutes. See docs/subsystems/home.md.
"""

from __future__ import annotations

from starling.cache.backends import CacheBackends
from starling.eventlog.base import EventLog
from starling.events import Event, FollowCreated, FollowDeleted
from starling.store.base import Store
from starling.visibility import reaches_followers
from starling.workers.base import EventWorker

MERGE_POSTS = 200


class GraphWorker(EventWorker):
    name = "graph"
    needs_shared_cache = True

    def __init__(self, log: EventLog, store: Store, cache: CacheBackends) -> None:
        super().__init__(log)
        self.store = store
        self.cache = cache

    def apply(self, events: list[Event]) -> None:
        for event in events:
            if not isinstance(event, FollowCreated | FollowDeleted):
                continue
            if not self.cache.timelines.exists(event.follower_id):
                continue
            if isinstance(event, FollowCreated):
                self._merge(event.follower_id, event.followee_id)
            else:
                self._unmerge(event.follower_id, event.followee_id)

    def _merge(self, follower: int, followee: int) -> None:
        posts = self.store.latest_posts_by_authors([followee], MERGE_POSTS)
        visible = [(p.id, p.source_id) for p in posts if reaches_followers(p.visibility)]
        self.cache.timelines.merge(follower, visible)

    def _unmerge(self, follower: int, followee: int) -> None:
        entries = self.cache.timelines.range(follower, limit=self.cache.timelines.capacity)
        if not entries:
            return
        ids = self.store.post_ids_by_authors([followee], since_id=min(entries) - 1)
        self.cache.timelines.remove(follower, [int(i) for i in ids])
