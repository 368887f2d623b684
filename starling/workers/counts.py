"""Counts worker: the reconciliation job for sharded like/repost counters
(seed: Race Condition 1).

Live counts are sharded cache counters, bumped by the actions layer after each commit.
This worker recounts every post touched by an engagement from the store of record,
writes the exact totals back to the post rows (what readers fall back to when a counter
is cold), and corrects a counter that disagrees with the store on two passes in a row:
a difference seen once may be an increment still in flight. See docs/subsystems/counters.md.
"""

from __future__ import annotations

from starling.cache.backends import CacheBackends
from starling.eventlog.base import EventLog
from starling.events import Event, LikeCreated, LikeDeleted, PostCreated, PostDeleted
from starling.model import FAVOURITES, REBLOGS
from starling.store.base import Store
from starling.workers.base import EventWorker


class CountsWorker(EventWorker):
    name = "counts"

    def __init__(self, log: EventLog, store: Store, cache: CacheBackends) -> None:
        super().__init__(log)
        self.store = store
        self.cache = cache
        # (counter name, post id) -> difference seen on the previous pass
        self._suspect: dict[tuple[str, int], int] = {}

    def apply(self, events: list[Event]) -> None:
        touched = {post for post in map(_engaged_post, events) if post is not None}
        self.reconcile(sorted(touched))

    def tick(self) -> None:
        self.reconcile(sorted({post for _, post in self._suspect}))

    def reconcile(self, post_ids: list[int]) -> None:
        if not post_ids:
            return
        likes = self.store.like_counts(post_ids)
        reposts = self.store.repost_counts(post_ids)
        with self.store.transaction() as tx:
            tx.set_post_counts((p, likes.get(p, 0), reposts.get(p, 0)) for p in post_ids)
        self._correct(FAVOURITES, likes, post_ids)
        self._correct(REBLOGS, reposts, post_ids)

    def _correct(self, name: str, exact: dict[int, int], post_ids: list[int]) -> None:
        live = self.cache.counters.get(name, post_ids)
        for post in post_ids:
            key = (name, post)
            diff = exact.get(post, 0) - live.get(post, 0)
            if post not in live or diff == 0:
                self._suspect.pop(key, None)
            elif self._suspect.get(key) == diff:
                self.cache.counters.incr(name, post, diff)
                del self._suspect[key]
            else:
                self._suspect[key] = diff


def _engaged_post(event: Event) -> int | None:
    """The post whose counts an event changes: the liked post, or a repost's original."""
    if isinstance(event, LikeCreated | LikeDeleted):
        return event.post_id
    if isinstance(event, PostCreated | PostDeleted):
        return event.repost_of_id
    return None
