"""The real graph: a bipartite account -> post engagement graph in time segments, written
by one thread and read by many without locks (GraphJet's design, seed: "GraphJet graph
traversal").

Edges arrive in time order and go into the newest segment until it holds
`segment_edges`; then a new segment starts and, past `max_segments`, the oldest is dropped
whole, so memory stays bounded and the graph covers the most recent engagements.

Memory model. The graph's state is one reference, `_snapshot`, to an immutable `Snapshot`
(a tuple of immutable segments whose arrays are read-only). The single writer never
changes a published object: it builds new segments (the growing one is rebuilt with each
batch, copy on write) and publishes them with one attribute store. A reader calls
`snapshot()` once per query and uses only what it got, so it sees one consistent state
however long it runs. This relies on CPython: storing or loading an attribute is one
atomic step (a reader gets the old reference or the new one, never a torn one), the
GIL's hand-over between threads orders the writer's array writes before its publication,
and reference counting keeps the segments a reader holds alive after the writer drops
them. Writers must not run concurrently (the worker applies one batch at a time under
its lock). See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starling.engagements import Engagements, IdArray, KindArray
from starling.realgraph.arrays import Positions
from starling.realgraph.segment import EMPTY, Mask, Segment

SEGMENT_EDGES = 1 << 17
MAX_SEGMENTS = 24  # about 3.1M edges, some 230 MB (73 bytes an edge on the bench world)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The graph as one reader sees it: segments oldest first, the last one growing."""

    segments: tuple[Segment, ...] = ()
    generation: int = 0  # one more with every write: names what a derived value was read from

    def edges_of(self, accounts: IdArray) -> Engagements:
        """Every live edge from these accounts (left to right), oldest first."""
        wanted = np.unique(accounts)
        return Engagements.concat(s.edges.take(s.of_accounts(wanted)) for s in self.segments)

    def engagers_of(self, posts: IdArray) -> Engagements:
        """Every live edge to these posts (right to left), oldest segment first."""
        wanted = np.unique(posts)
        return Engagements.concat(s.edges.take(s.of_posts(wanted)) for s in self.segments)

    def live(self) -> Engagements:
        """Every live edge, segment by segment (oldest first), each in left order."""
        return Engagements.concat(s.edges.take(s.alive) for s in self.segments)

    @property
    def size(self) -> int:
        """Edges held, the dead ones included (they keep their memory until dropped)."""
        return sum(s.size for s in self.segments)

    @property
    def live_edges(self) -> int:
        return sum(int(np.count_nonzero(s.alive)) for s in self.segments)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments)


class RealGraph:
    def __init__(self, segment_edges: int = SEGMENT_EDGES, max_segments: int = MAX_SEGMENTS):
        if not 0 < segment_edges < 2**31 or max_segments < 1:
            raise ValueError("segments hold 1 to 2**31 - 1 edges, and there is at least one")
        self.segment_edges = segment_edges
        self.max_segments = max_segments
        self._snapshot = Snapshot()
        # For values derived from a snapshot (engager sums): the generation of each post's
        # latest edge change, and the generation before which every value is stale.
        self._changed: dict[int, int] = {}
        self._stale_before = 0

    def snapshot(self) -> Snapshot:
        """The current state; readers take it once per query."""
        return self._snapshot

    def stale(self, posts: IdArray, generations: IdArray) -> Mask:
        """Whether each post's edges changed after the generation of the snapshot a value
        of it was derived from."""
        changed = self._changed
        latest = np.fromiter((changed.get(p, -1) for p in posts.tolist()), np.int64, len(posts))
        stale: Mask = (generations < self._stale_before) | (latest > generations)
        return stale

    # The writer's side: one thread at a time.

    def add(self, edges: Engagements) -> int:
        """Adds the edges not already in the graph (a re-delivered edge, which keeps its
        time, counts once); returns how many were new. Self-engagements are left out: no
        signal."""
        edges = edges.take(edges.account != edges.author)
        edges = edges.take(_first_of_each(edges))
        segments = self._snapshot.segments
        known = np.zeros(edges.size, dtype=np.bool_)
        if edges.size:
            # A re-delivered engagement keeps its time: only segments spanning the batch's
            # times can hold it, usually the newest one or two.
            first, last = int(edges.time.min()), int(edges.time.max())
            for segment in (s for s in segments if s.spans(first, last)):
                known[segment.find(edges.account, edges.post, edges.kind)[0]] = True
        fresh = edges.take(~known)
        if fresh.size:
            grown = self._appended(segments, fresh)
            dropped = len(grown) > self.max_segments
            self._publish(grown[-self.max_segments :], fresh.post, dropped=dropped)
        return fresh.size

    def remove(
        self, account: IdArray, post: IdArray, kind: KindArray, posts: IdArray | None = None
    ) -> int:
        """Removes the edges (account, post, kind) and every edge to `posts` (deleted
        posts); returns how many edges died. Removing what is absent changes nothing."""
        gone = np.unique(posts) if posts is not None else np.empty(0, dtype=np.int64)
        removed = 0
        kept: list[Segment] = []
        for segment in self._snapshot.segments:
            dead = np.union1d(segment.find(account, post, kind)[1], segment.of_posts(gone))
            removed += dead.size
            kept.append(segment.without(dead) if dead.size else segment)
        if removed:
            self._publish(tuple(kept), np.concatenate([post, gone]), dropped=False)
        return removed

    def _publish(self, segments: tuple[Segment, ...], changed: IdArray, *, dropped: bool) -> None:
        """Publishes the next snapshot, after recording which posts it changes."""
        generation = self._snapshot.generation + 1
        # A drop changes posts it does not name; a record grown to a segment's edges is
        # forgotten the same way (it stays small): every older value is stale then.
        if dropped or len(self._changed) >= self.segment_edges:
            self._stale_before = generation
            self._changed.clear()
        self._changed.update(dict.fromkeys(changed.tolist(), generation))
        self._snapshot = Snapshot(segments, generation)

    def _appended(self, segments: tuple[Segment, ...], fresh: Engagements) -> tuple[Segment, ...]:
        """Fills the newest segment and starts new ones as needed (the caller drops the
        oldest beyond max_segments)."""
        grown = list(segments)
        done = 0
        while done < fresh.size:
            if not grown or grown[-1].size >= self.segment_edges:
                grown.append(EMPTY)
            room = self.segment_edges - grown[-1].size
            grown[-1] = grown[-1].extended(fresh.take(slice(done, done + room)))
            done += room
        return tuple(grown)


def _first_of_each(edges: Engagements) -> Positions:
    """Positions of the first occurrence of each (account, post, kind), in batch order."""
    order = np.lexsort((np.arange(edges.size), edges.kind, edges.post, edges.account))
    a, p, k = edges.account[order], edges.post[order], edges.kind[order]
    first = np.ones(edges.size, dtype=np.bool_)
    first[1:] = (a[1:] != a[:-1]) | (p[1:] != p[:-1]) | (k[1:] != k[:-1])
    return np.sort(order[first])
