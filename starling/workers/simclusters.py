"""SimClusters worker: post vectors from likes as they happen.

Each LikeCreated adds the liker's InterestedIn vector (of the newest communities) to the
post's vector and its clusters' top posts (simclusters/posts.py). Re-delivered likes are
recognised by their (post, liker) pair, so a batch applied twice changes nothing. When a
newer communities version appears, the vectors start afresh on it (cluster numbers differ
between versions). The vectors live in this process: the worker runs in the serving
process, whose candidate source reads them. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from starling.eventlog.base import EventLog
from starling.events import Event, LikeCreated
from starling.ids import now_ms
from starling.simclusters.index import SimClustersIndex
from starling.simclusters.posts import PostVectors
from starling.workers.base import EventWorker


class SimClustersWorker(EventWorker):
    name = "simclusters"

    def __init__(
        self, log: EventLog, index: SimClustersIndex, posts: PostVectors | None = None
    ) -> None:
        super().__init__(log)
        self.index = index
        self.posts = posts or PostVectors()

    def apply(self, events: list[Event]) -> None:
        self.tick()
        for event in events:
            if isinstance(event, LikeCreated):
                self.posts.add_like(event.post_id, event.actor_id, event.created_at)

    def tick(self) -> None:
        """Moves to the newest communities version."""
        model = self.index.current()
        table = self.posts.table
        if model is not None and (table is None or table.model is not model):
            self.posts.reset(model, now_ms())
