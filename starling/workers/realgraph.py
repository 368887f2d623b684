"""Real graph worker: the one writer of the in-process real graph (GraphJet's ingester).

Likes, reposts and open replies become edges account -> post; unlikes, deleted reposts and
replies remove theirs, and a deleted post loses every edge to it. Applying twice changes
nothing: an edge already in the graph is not added again, removing an absent edge is a
no-op. Events are applied in log order, runs of additions and of removals each in one
graph write. On start the graph is rebuilt from the store's engagements of the graph's
window, oldest first; the log's events since the worker's committed offset then
replay over it idempotently. See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby

import numpy as np

from starling.engagements import EngagementKind, Engagements
from starling.eventlog.base import EventLog
from starling.events import Event, LikeCreated, LikeDeleted, PostCreated, PostDeleted
from starling.ids import now_ms
from starling.realgraph import RealGraph
from starling.store.base import Store
from starling.visibility import OPEN
from starling.window import WINDOW_MS
from starling.workers.base import EventWorker

REBUILD_CHUNK = 50_000

LIKE, REPOST, REPLY = EngagementKind
Row = tuple[int, int, int, int, int]  # account, post, author, kind, time
Change = tuple[bool, Row | int]  # (added?, an edge row, or a deleted post's id)


class RealGraphWorker(EventWorker):
    name = "realgraph"

    def __init__(
        self,
        log: EventLog,
        store: Store,
        graph: RealGraph,
        window_ms: int = WINDOW_MS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(log)
        self.store = store
        self.graph = graph
        self.window_ms = window_ms
        self.clock = clock

    def rebuild(self) -> int:
        """Loads the window's engagements from the store, oldest first; returns how many
        edges the graph took."""
        found = Engagements.concat(self.store.iter_engagements(self._since(), REBUILD_CHUNK))
        found = found.take(np.argsort(found.time, kind="stable"))
        step = self.graph.segment_edges
        parts = (found.take(slice(i, i + step)) for i in range(0, found.size, step))
        return sum(map(self.graph.add, parts))

    def apply(self, events: list[Event]) -> None:
        since = self._since()
        for added, run in groupby(_changes(events), key=lambda change: change[0]):
            items = [item for _, item in run]
            if added:
                rows = Engagements.of_rows([r for r in items if isinstance(r, tuple)])
                self.graph.add(rows.take(rows.time >= since))
            else:
                self._remove(items)

    def _remove(self, items: list[Row | int]) -> None:
        edges = Engagements.of_rows([r for r in items if isinstance(r, tuple)])
        posts = np.array([p for p in items if isinstance(p, int)], dtype=np.int64)
        self.graph.remove(edges.account, edges.post, edges.kind, posts)

    def _since(self) -> int:
        return self.clock() - self.window_ms


def _changes(events: list[Event]) -> Iterator[Change]:
    """What each event does to the graph, in log order."""
    for event in events:
        if isinstance(event, LikeCreated | LikeDeleted):
            row = (event.actor_id, event.post_id, event.post_author_id, LIKE)
            yield isinstance(event, LikeCreated), (*row, event.created_at)
        elif isinstance(event, PostCreated | PostDeleted):
            edge = engagement_of(event)
            if edge is not None:
                yield isinstance(event, PostCreated), edge
            if isinstance(event, PostDeleted):
                yield False, event.id


def engagement_of(post: PostCreated | PostDeleted) -> Row | None:
    """The edge a repost or an open reply makes, if the post is one."""
    if post.repost_of_id is not None and post.repost_of_author_id is not None:
        return (
            post.author_id,
            post.repost_of_id,
            post.repost_of_author_id,
            REPOST,
            post.created_at,
        )
    if post.reply_to_id is None or post.reply_to_account_id is None:
        return None
    if post.visibility not in OPEN:
        return None
    return (post.author_id, post.reply_to_id, post.reply_to_account_id, REPLY, post.created_at)
