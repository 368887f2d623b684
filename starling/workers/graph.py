"""Graph worker: keeps home timelines in step with follows, blocks and mutes (seed: Race
Condition 2).

Follow: merge the followee's recent posts into the follower's timeline, as Mastodon does
(also for a pulled author: one timeline write, and it covers posts pushed before or after
the author was pulled). Unfollow, block (both timelines) and an open-ended mute: remove
them. Unmute: merge them back while still following, as Mastodon's UnmuteService. A timed
mute leaves the cache alone: the read filter hides the author until it expires. Reads
stay correct before this runs: the home timeline filters by the current follow set,
blocks and mutes, and injects posts of accounts followed in the last five minutes.
See docs/subsystems/home.md.
"""

from __future__ import annotations

from starling.cache.backends import CacheBackends
from starling.eventlog.base import EventLog
from starling.events import (
    BlockCreated,
    Event,
    FollowCreated,
    FollowDeleted,
    MuteCreated,
    MuteDeleted,
)
from starling.store.base import Store
from starling.visibility import reaches_followers
from starling.workers.base import EventWorker

MERGE_POSTS = 200


class GraphWorker(EventWorker):
    name = "graph"

    def __init__(self, log: EventLog, store: Store, cache: CacheBackends) -> None:
        super().__init__(log)
        self.store = store
        self.cache = cache

    def apply(self, events: list[Event]) -> None:
        for event in events:
            for owner, author in _leaving(event):
                if self.cache.timelines.exists(owner):
                    self._unmerge(owner, author)
            for owner, author in self._joining(event):
                if self.cache.timelines.exists(owner):
                    self._merge(owner, author)

    def _joining(self, event: Event) -> list[tuple[int, int]]:
        """(timeline owner, author) pairs whose posts join the owner's timeline."""
        if isinstance(event, FollowCreated):
            return [(event.follower_id, event.followee_id)]
        if isinstance(event, MuteDeleted):
            edge = self.store.relationships(event.actor_id, [event.target_id])[0]
            return [(event.actor_id, event.target_id)] if edge.following else []
        return []

    def _merge(self, owner: int, author: int) -> None:
        posts = self.store.latest_posts_by_authors([author], MERGE_POSTS)
        visible = [(p.id, p.source_id) for p in posts if reaches_followers(p.visibility)]
        self.cache.timelines.merge(owner, visible)

    def _unmerge(self, owner: int, author: int) -> None:
        entries = self.cache.timelines.range(owner, limit=self.cache.timelines.capacity)
        if not entries:
            return
        ids = self.store.post_ids_by_authors([author], since_id=min(entries) - 1)
        self.cache.timelines.remove(owner, [int(i) for i in ids])


def _leaving(event: Event) -> list[tuple[int, int]]:
    """(timeline owner, author) pairs whose posts leave the owner's timeline."""
    if isinstance(event, FollowDeleted):
        return [(event.follower_id, event.followee_id)]
    if isinstance(event, BlockCreated):
        return [(event.actor_id, event.target_id), (event.target_id, event.actor_id)]
    if isinstance(event, MuteCreated) and event.expires_at is None:
        return [(event.actor_id, event.target_id)]
    return []
