"""One time segment of the real graph: an immutable block of engagement edges with its
indexes, as numpy arrays.

Edges are kept in left order (by account; arrival order within an account), so an
account's edges are one slice (`account_ptr`, CSR). `by_post` lists edge positions by post
(right-to-left adjacency, CSR over `posts`), and `keys` holds the sorted hash of every
edge's (account, post, kind) for exact membership checks in a batch. Nothing is modified
after a segment is built: a write builds a new segment (`extended`, `without`) and the
graph publishes it, so readers holding the old one are never disturbed.
See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.engagements import Engagements, IdArray, KindArray
from starling.realgraph.arrays import Positions, lookup, ranges, runs

Index32 = npt.NDArray[np.int32]
Keys = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]
NO_TIME = 2**63 - 1

# splitmix64's finaliser: spreads (account, post, kind) over 64 bits for the key index.
_M1, _M2, _GOLDEN = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


@dataclass(frozen=True, slots=True)
class Segment:
    edges: Engagements  # in left order
    alive: Mask  # False once unliked, undone or its post deleted
    accounts: IdArray  # distinct accounts, sorted
    account_ptr: Positions  # edges of accounts[i] are account_ptr[i]:account_ptr[i + 1]
    by_post: Index32  # edge positions ordered by post
    posts: IdArray  # distinct posts, sorted
    post_ptr: Positions  # by_post[post_ptr[i]:post_ptr[i + 1]] are the edges of posts[i]
    keys: Keys  # edge keys, sorted
    key_edge: Index32  # the edge position of each key
    first_time: int  # the span of its edges' times (empty: first > last)
    last_time: int

    def spans(self, first: int, last: int) -> bool:
        """Whether it holds edges timed within first..last."""
        return self.first_time <= last and first <= self.last_time

    @property
    def size(self) -> int:
        return self.edges.size

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.edges.columns(), *self.indexes()))

    def indexes(self) -> tuple[npt.NDArray[Any], ...]:
        """Its arrays besides the edges."""
        csr = (self.accounts, self.account_ptr, self.by_post, self.posts, self.post_ptr)
        return (self.alive, *csr, self.keys, self.key_edge)

    def extended(self, new: Engagements) -> Segment:
        """This segment's edges followed by `new`. Each index is re-sorted from the old
        sorted order plus the new tail, which a stable sort (timsort) merges in about
        linear time, so growing the live segment by a batch costs O(size), not a full sort."""
        n = self.size
        merged = Engagements.concat([self.edges, new])
        tail = np.arange(n, n + new.size, dtype=np.int64)
        left = _sorted_by(merged.account, np.arange(n + new.size, dtype=np.int64))
        moved_to = np.empty_like(left)
        moved_to[left] = np.arange(left.size)
        by_post = moved_to[_sorted_by(merged.post, np.concatenate([self.by_post, tail]))]
        all_keys = np.concatenate([self.keys, edge_keys(new.account, new.post, new.kind)])
        key_order = np.argsort(all_keys, kind="stable")
        key_edge = moved_to[np.concatenate([self.key_edge, tail])[key_order]]
        edges = merged.take(left)
        accounts, account_ptr = runs(edges.account)
        posts, post_ptr = runs(edges.post[by_post])
        return _frozen(
            Segment(
                edges,
                np.concatenate([self.alive, np.ones(new.size, dtype=np.bool_)])[left],
                accounts,
                account_ptr,
                by_post.astype(np.int32),
                posts,
                post_ptr,
                all_keys[key_order],
                key_edge.astype(np.int32),
                min(self.first_time, int(new.time.min(initial=NO_TIME))),
                max(self.last_time, int(new.time.max(initial=-NO_TIME))),
            )
        )

    def without(self, positions: Positions) -> Segment:
        """A copy whose edges at these positions are dead (copy on write of the mask)."""
        alive = self.alive.copy()
        alive[positions] = False
        alive.flags.writeable = False
        return replace(self, alive=alive)

    def of_accounts(self, accounts: IdArray) -> Positions:
        """Positions of the live edges of these accounts (sorted, distinct ids)."""
        return self._live(ranges(*_rows(self.accounts, self.account_ptr, accounts)))

    def of_posts(self, posts: IdArray) -> Positions:
        """Positions of the live edges to these posts (sorted, distinct ids)."""
        by_post = self.by_post[ranges(*_rows(self.posts, self.post_ptr, posts))]
        return self._live(by_post.astype(np.int64))

    def find(self, account: IdArray, post: IdArray, kind: KindArray) -> tuple[Positions, Positions]:
        """(query row, edge position) of every live edge equal to a query row. Exact: the
        hash only narrows the search, each candidate is compared in full."""
        wanted = edge_keys(account, post, kind)
        lo = np.searchsorted(self.keys, wanted, side="left")
        hi = np.searchsorted(self.keys, wanted, side="right")
        query = np.repeat(np.arange(wanted.size), hi - lo)
        edge = self.key_edge[ranges(lo, hi)].astype(np.int64)
        e = self.edges
        same = (e.account[edge] == account[query]) & (e.post[edge] == post[query])
        same &= (e.kind[edge] == kind[query]) & self.alive[edge]
        return query[same], edge[same]

    def _live(self, positions: Positions) -> Positions:
        return positions[self.alive[positions]]


def edge_keys(account: IdArray, post: IdArray, kind: KindArray) -> Keys:
    """A 64-bit hash of each (account, post, kind); equal edges have equal keys."""
    with np.errstate(over="ignore"):
        h = account.astype(np.uint64) * _GOLDEN + post.astype(np.uint64)
        h = h * _GOLDEN + kind.astype(np.uint64)
        h = (h ^ (h >> np.uint64(30))) * _M1
        h = (h ^ (h >> np.uint64(27))) * _M2
        return h ^ (h >> np.uint64(31))


def _sorted_by(values: IdArray, order: Positions) -> Positions:
    """`order` (positions whose values are sorted, then a tail) sorted by value, stably."""
    return order[np.argsort(values[order], kind="stable")]


def _rows(ids: IdArray, ptr: Positions, wanted: IdArray) -> tuple[Positions, Positions]:
    """(start, end) of the runs of the wanted ids that are present."""
    at, found = lookup(ids, wanted)
    at = at[found]
    return ptr[at], ptr[at + 1]


def _frozen(segment: Segment) -> Segment:
    for array in (*segment.edges.columns(), *segment.indexes()):
        array.flags.writeable = False
    return segment


def _empty() -> Segment:
    none = np.empty(0, dtype=np.int64)
    return _frozen(
        Segment(
            Engagements.empty(),
            np.empty(0, dtype=np.bool_),
            none,
            np.zeros(1, dtype=np.int64),
            np.empty(0, dtype=np.int32),
            none.copy(),
            np.zeros(1, dtype=np.int64),
            np.empty(0, dtype=np.uint64),
            np.empty(0, dtype=np.int32),
            NO_TIME,
            -NO_TIME,
        )
    )


EMPTY = _empty()
