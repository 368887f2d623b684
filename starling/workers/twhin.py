"""TwHIN worker: post embeddings from authors and engagements as they happen.

A new post adds its author's embedding to its vector; a like, repost or open reply adds
the engager's (the real graph's engagement rows, starling/workers/realgraph.py). Posts
live in the ANN index for 48 hours. On start, and when a newer version of the account
embeddings appears (other coordinates), the index is rebuilt from the store's posts and
engagements of the window and swapped in whole; events made before that rebuild are then
skipped, and a re-delivered event is recognised by its (post, account, kind). The index
lives in this process: the worker runs in the serving process, whose candidate source
reads it. See docs/subsystems/twhin.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from starling.applied import AppliedKeys
from starling.artifacts import Newest
from starling.eventlog.base import EventLog
from starling.events import Event, LikeCreated, PostCreated
from starling.ids import SEQUENCE_BITS, id_at, now_ms
from starling.store.base import Store
from starling.twhin.embeddings import Embeddings
from starling.twhin.posts import AUTHOR, WEIGHTS, PostEmbeddings
from starling.visibility import OPEN
from starling.window import WINDOW_MS
from starling.workers.base import EventWorker
from starling.workers.realgraph import LIKE, engagement_of

CHUNK = 50_000
EXPIRE_EVERY_MS = 60_000
APPLIED = 1_000_000  # (post, account, kind) keys remembered against re-delivery
Row = tuple[int, int, int, int]  # post, account, kind, created_at


class TwhinWorker(EventWorker):
    name = "twhin"

    def __init__(
        self,
        log: EventLog,
        store: Store,
        embeddings: Newest[Embeddings],
        window_ms: int = WINDOW_MS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(log)
        self.store = store
        self.embeddings = embeddings
        self.window_ms = window_ms
        self.clock = clock
        self.posts: PostEmbeddings | None = None  # what the candidate source reads
        self._applied = AppliedKeys(APPLIED)
        self._rebuilt_at = 0
        self._expired_at = 0

    def apply(self, events: list[Event]) -> None:
        self.tick()
        if self.posts is not None:
            fresh = (r for r in _contributions(events) if r[3] >= self._rebuilt_at)
            self._add(self.posts, (r for r in fresh if self._applied.first_time(r[:3])))

    def tick(self) -> None:
        """Moves to the newest embeddings (rebuilding the index) and drops old posts."""
        model = self.embeddings.current()
        if model is not None and (self.posts is None or self.posts.embeddings is not model):
            self.rebuild(model)
        now = self.clock()
        if self.posts is not None and now - self._expired_at >= EXPIRE_EVERY_MS:
            self.posts.index.expire(now - self.window_ms)
            self._expired_at = now

    def rebuild(self, model: Embeddings) -> int:
        """A new index from the store's posts and engagements of the window; returns the
        posts it holds."""
        started = self.clock()
        since = started - self.window_ms
        fresh = PostEmbeddings(model)
        self._add(fresh, self._stored(since))
        self.posts, self._rebuilt_at, self._expired_at = fresh, started, started
        return len(fresh.index)

    def _stored(self, since: int) -> Iterator[Row]:
        for chunk in self.store.iter_posts(id_at(since) - 1, CHUNK):
            for post in chunk:
                row = _authored(post.id, post.author_id, post.visibility, post.repost_of_id)
                if row is not None and post.deleted_at is None:
                    yield row
        for found in self.store.iter_engagements(since, CHUNK):
            yield from zip(
                found.post.tolist(), found.account.tolist(), found.kind.tolist(),
                found.time.tolist(), strict=True,
            )  # fmt: skip

    def _add(self, posts: PostEmbeddings, rows: Iterable[Row]) -> None:
        table = np.array(list(rows), np.int64).reshape(-1, 4)
        since = self.clock() - self.window_ms
        table = table[(table[:, 0] >> SEQUENCE_BITS) >= since]
        weights = np.array([WEIGHTS[k] for k in table[:, 2].tolist()])
        posts.add(table[:, 0], table[:, 1], weights)


def _authored(post_id: int, author_id: int, visibility: str, repost_of: int | None) -> Row | None:
    """A post's own row, its author's embedding: open originals and replies only (a
    repost's row is the reposter's engagement with the original)."""
    if visibility not in OPEN or repost_of is not None:
        return None
    return (post_id, author_id, AUTHOR, post_id >> SEQUENCE_BITS)


def _contributions(events: list[Event]) -> Iterator[Row]:
    for event in events:
        if isinstance(event, LikeCreated):
            yield (event.post_id, event.actor_id, LIKE, event.created_at)
        elif isinstance(event, PostCreated):
            row = _authored(event.id, event.author_id, event.visibility, event.repost_of_id)
            if row is not None:
                yield row
            edge = engagement_of(event)
            if edge is not None:
                account, post, _, kind, at = edge
                yield (post, account, kind, at)
