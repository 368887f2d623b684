"""SimClusters worker: post vectors from likes as they happen.

Each LikeCreated adds the liker's InterestedIn vector (of the newest communities) to the
post's vector and its clusters' top posts (simclusters/posts.py), a batch's likes in one
call (`PostVectors.add_likes`). Re-delivered likes are recognised by their (post, liker)
pair, so a batch applied twice changes nothing. When a newer communities version appears
(and on start), the vectors start afresh on it (cluster numbers differ between versions),
rebuilt from the store's likes of the window in one batch; a like both rebuilt and
delivered by the log counts once. The vectors live in this process: the worker runs in
the serving process, whose candidate source reads them. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from starling.engagements import EngagementKind, Engagements
from starling.eventlog.base import EventLog
from starling.events import Event, LikeCreated
from starling.ids import now_ms
from starling.simclusters.index import SimClustersIndex
from starling.simclusters.posts import PostVectors
from starling.store.base import Store
from starling.window import WINDOW_MS
from starling.workers.base import EventWorker

CHUNK = 50_000


class SimClustersWorker(EventWorker):
    name = "simclusters"

    def __init__(
        self,
        log: EventLog,
        index: SimClustersIndex,
        store: Store | None = None,
        posts: PostVectors | None = None,
        window_ms: int = WINDOW_MS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(log)
        self.index = index
        self.store = store  # where a fresh table's likes are read from; none: live likes only
        self.posts = posts or PostVectors()
        self.window_ms = window_ms
        self.clock = clock

    def apply(self, events: list[Event]) -> None:
        self.tick()
        likes = [
            (e.post_id, e.actor_id, e.created_at) for e in events if isinstance(e, LikeCreated)
        ]
        if likes:
            post_ids, liker_ids, at_ms = np.array(likes, dtype=np.int64).T
            self.posts.add_likes(post_ids, liker_ids, at_ms)

    def tick(self) -> None:
        """Moves to the newest communities version."""
        model = self.index.current()
        table = self.posts.table
        if model is not None and (table is None or table.model is not model):
            self.posts.reset(model, self.clock())
            self.rebuild()

    def rebuild(self) -> int:
        """Adds the store's likes of the window to the current table; returns how many
        were added."""
        if self.store is None:
            return 0
        since = self.clock() - self.window_ms
        found = Engagements.concat(self.store.iter_engagements(since, CHUNK))
        likes = found.take(found.kind == EngagementKind.LIKE)
        return self.posts.add_likes(likes.post, likes.account, likes.time)
