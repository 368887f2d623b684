"""Post vectors from likes, as they happen: each like adds the liker's InterestedIn vector
to the post's, and each cluster keeps its top posts.

A post's vector is truncated to its `width` heaviest clusters (as SimClusters' tweet
vectors are), in a ring of `capacity` post slots: the oldest post gives its slot up.
Likes are weighted by forward decay, 2 ** ((t - landmark) / half_life), so a newer like
counts more and no stored weight ever needs a periodic decay pass; all weights are
rescaled when the exponent grows large. The table belongs to one version of the
communities (cluster numbers mean nothing across versions): `PostVectors.reset` swaps in a
fresh one, which `PostVectors.add_likes` fills from stored likes in one batch, and readers
take `PostVectors.table` once per query. One writer (the worker).
See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from starling.applied import AppliedKeys
from starling.realgraph.arrays import runs
from starling.simclusters.communities import Clusters, Communities, Ids, Weights

Matrix = npt.NDArray[np.float64]

HOUR_MS = 3_600_000
MERGE_ROWS = 20_000  # posts merged at once by add_likes, as dense rows of every cluster
REBASE_HALF_LIVES = 256  # rescale before 2 ** exponent nears float64's range


@dataclass(frozen=True)
class PostVectorParams:
    capacity: int = 500_000  # posts with a vector
    width: int = 8  # clusters per post vector
    top_per_cluster: int = 200
    half_life_ms: int = 24 * HOUR_MS
    applied_capacity: int = 1_000_000  # (post, liker) pairs remembered against re-delivery


@dataclass
class PostTable:
    """The vectors of one communities version, as columns."""

    model: Communities
    params: PostVectorParams
    landmark_ms: int
    slot_post: npt.NDArray[np.int64] = field(init=False)  # -1: free
    clusters: npt.NDArray[np.int32] = field(init=False)  # [slot, width], -1: unused
    weights: npt.NDArray[np.float64] = field(init=False)
    top_post: npt.NDArray[np.int64] = field(init=False)  # [cluster, top], -1: unused
    top_slot: npt.NDArray[np.int64] = field(init=False)
    top_score: npt.NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        n, width = self.params.capacity, self.params.width
        shape = (self.model.clusters, self.params.top_per_cluster)
        self.slot_post = np.full(n, -1, np.int64)
        self.clusters = np.full((n, width), -1, np.int32)
        self.weights = np.zeros((n, width))
        self.top_post = np.full(shape, -1, np.int64)
        self.top_slot = np.zeros(shape, np.int64)
        self.top_score = np.zeros(shape)


class PostVectors:
    def __init__(self, params: PostVectorParams | None = None) -> None:
        self.params = params or PostVectorParams()
        self.table: PostTable | None = None
        self._slot_of: dict[int, int] = {}
        self._next_slot = 0
        self._applied = AppliedKeys(self.params.applied_capacity)

    def __len__(self) -> int:
        """Posts with a vector."""
        return len(self._slot_of)

    def reset(self, model: Communities, now_ms: int) -> None:
        """Starts afresh on another version of the communities."""
        self._slot_of.clear()
        self._applied.clear()
        self._next_slot = 0
        self.table = PostTable(model, self.params, now_ms)

    def add_like(self, post_id: int, liker_id: int, at_ms: int) -> bool:
        """One like, as a batch of one; False when already applied (re-delivery) or when
        there is no table or interest to add."""
        one = (np.array([post_id]), np.array([liker_id]), np.array([at_ms]))
        return self.add_likes(*one) == 1

    def add_likes(self, post_ids: Ids, liker_ids: Ids, at_ms: Ids) -> int:
        """Adds many likes at once (a batch of the log, or a rebuild) in a few array
        operations; returns how many were added.

        Already applied (post, liker) pairs and repeats within the batch count once (the
        earliest), and all are remembered against re-delivery. Each post's added likes are
        summed before its vector is cut to `width` clusters: smaller batches cut more
        often, and a whole rebuild in one batch is the exact sum (the same vectors
        whatever the batches when no cut happens). See `_place` for the slots."""
        table = self.table
        if table is None or not len(post_ids):
            return 0
        order = np.argsort(at_ms, kind="stable")
        post_ids, liker_ids, at_ms = post_ids[order], liker_ids[order], at_ms[order]
        pairs = zip(post_ids.tolist(), liker_ids.tolist(), strict=True)
        fresh = np.array(self._applied.first_times(pairs), np.bool_)
        post_ids, at_ms = post_ids[fresh], at_ms[fresh]
        interests = table.model.sparse_interests(liker_ids[fresh]).astype(np.float64)
        counted = np.flatnonzero(np.diff(interests.indptr))  # likers with an InterestedIn
        if not counted.size:
            return 0
        self._rebase_for(table, int(at_ms[counted[-1]]))
        interests.data *= np.repeat(self._boost(table, at_ms), np.diff(interests.indptr))
        posts, post_row = np.unique(post_ids[counted], return_inverse=True)
        likes_of = (np.ones(counted.size), (post_row, counted))
        added = sp.csr_matrix(likes_of, shape=(posts.size, at_ms.size)) @ interests
        newest = np.zeros(posts.size, np.int64)
        np.maximum.at(newest, post_row, at_ms[counted])
        slots = self._place(table, posts, newest)
        for start in range(0, posts.size, MERGE_ROWS):
            part = slice(start, start + MERGE_ROWS)
            placed = slots[part] >= 0
            self._merge(table, slots[part][placed], added[part].toarray()[placed])
        self._rebuild_tops(table, slots[slots >= 0])
        return int(counted.size)

    def vector(self, post_id: int) -> tuple[Clusters, Weights]:
        """The post's current (decay-weighted) vector, for tests and explain."""
        table, slot = self.table, self._slot_of.get(post_id)
        if table is None or slot is None:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        used = table.clusters[slot] >= 0
        return table.clusters[slot][used], table.weights[slot][used].astype(np.float32)

    def vectors(
        self, post_ids: npt.NDArray[np.int64]
    ) -> tuple[PostTable | None, npt.NDArray[np.int64]]:
        """The table and each post's slot in it (-1 for a post without a vector), for a
        whole batch: a ranking feature reads `clusters` and `weights` at those slots."""
        table = self.table
        slots = np.array([self._slot_of.get(p, -1) for p in post_ids.tolist()], dtype=np.int64)
        return table, slots

    def _place(self, table: PostTable, posts: Ids, newest: Ids) -> Ids:
        """Each post's slot, -1 for none. A post with a slot keeps it; the others take the
        ring's next slots in order of their newest like, oldest first, so when there are
        more than `capacity` only the newest get one, and the ring's oldest posts give
        theirs up. A post of the batch whose slot is taken over counts as new again (it
        loses its earlier likes, as one by one)."""
        capacity = self.params.capacity
        slots = np.array([self._slot_of.get(p, -1) for p in posts.tolist()], np.int64)
        new = slots < 0
        if not new.any():
            return slots
        while True:
            waiting = np.flatnonzero(new)
            taking = waiting[np.argsort(newest[waiting], kind="stable")][-capacity:]
            taken = (self._next_slot + np.arange(taking.size)) % capacity
            moved = ~new & np.isin(slots, taken)
            if not moved.any():
                break
            new |= moved
        self._evict(table, taken)
        self._next_slot = int(self._next_slot + taking.size) % capacity
        slots[new] = -1
        slots[taking] = taken
        table.slot_post[taken] = posts[taking]
        self._slot_of.update(zip(posts[taking].tolist(), taken.tolist(), strict=True))
        return slots

    def _evict(self, table: PostTable, slots: Ids) -> None:
        """Frees the slots: their posts lose their vectors and leave their clusters' top
        lists."""
        posts = table.slot_post[slots]
        posts = posts[posts >= 0]
        for post in posts.tolist():
            del self._slot_of[post]
        clusters = np.unique(table.clusters[slots])
        lists = clusters[clusters >= 0]
        gone = np.isin(table.top_post[lists], posts)
        table.top_post[lists] = np.where(gone, -1, table.top_post[lists])
        table.top_score[lists] = np.where(gone, 0.0, table.top_score[lists])
        table.slot_post[slots] = -1
        table.clusters[slots] = -1
        table.weights[slots] = 0.0

    def _merge(self, table: PostTable, slots: Ids, added: Matrix) -> None:
        """Adds each row of `added` (one column per cluster) to the vector at its slot,
        keeping its `width` heaviest clusters."""
        rows, columns = np.nonzero(table.clusters[slots] >= 0)
        total = added.copy()
        total[rows, table.clusters[slots][rows, columns]] += table.weights[slots][rows, columns]
        width = min(self.params.width, total.shape[1])
        top = np.argpartition(-total, width - 1, axis=1)[:, :width]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(total, top, 1), 1), 1)
        weights = np.take_along_axis(total, top, 1)
        clusters = np.full((slots.size, self.params.width), -1, np.int32)
        clusters[:, :width] = np.where(weights > 0, top, -1)
        padded = np.zeros(clusters.shape)
        padded[:, :width] = np.where(weights > 0, weights, 0.0)
        table.clusters[slots], table.weights[slots] = clusters, padded

    def _rebuild_tops(self, table: PostTable, slots: Ids) -> None:
        """Puts the posts at these slots in their clusters' top lists with their current
        weights, each list touched keeping its `top_per_cluster` heaviest posts, each
        once."""
        size = self.params.top_per_cluster
        held = table.clusters[slots] >= 0
        rows = np.nonzero(held)[0]
        new_cluster = table.clusters[slots][held].astype(np.int64)
        new_slot, new_score = slots[rows], table.weights[slots][held]
        touched = np.unique(new_cluster)
        old_cluster = np.repeat(touched, size)
        old_slot, old_score = table.top_slot[touched].ravel(), table.top_score[touched].ravel()
        # An entry of one of these slots, in a cluster the slot's post has, is the post's
        # (or a stale one of a post evicted from the slot): the new weight replaces it.
        mine = np.isin(old_slot, slots)
        mine[mine] = (table.clusters[old_slot[mine]] == old_cluster[mine, None]).any(axis=1)
        stays = (table.top_post[touched].ravel() >= 0) & ~mine
        cluster = np.concatenate([old_cluster[stays], new_cluster])
        slot = np.concatenate([old_slot[stays], new_slot])
        score = np.concatenate([old_score[stays], new_score])
        keep, rank = heaviest(cluster, score, size)
        row = np.searchsorted(touched, cluster[keep])
        posts = np.full((touched.size, size), -1, np.int64)
        posts[row, rank] = table.slot_post[slot[keep]]
        slots_of = np.zeros((touched.size, size), np.int64)
        slots_of[row, rank] = slot[keep]
        scores = np.zeros((touched.size, size))
        scores[row, rank] = score[keep]
        table.top_post[touched], table.top_slot[touched] = posts, slots_of
        table.top_score[touched] = scores

    def _boost(self, table: PostTable, at_ms: Ids) -> Matrix:
        """Forward decay: a like's weight relative to one at the landmark."""
        return np.asarray(2.0 ** ((at_ms - table.landmark_ms) / self.params.half_life_ms))

    def _rebase_for(self, table: PostTable, at_ms: int) -> None:
        half_lives = (at_ms - table.landmark_ms) // self.params.half_life_ms
        if half_lives < REBASE_HALF_LIVES:
            return
        scale = 2.0**-half_lives
        table.weights *= scale
        table.top_score *= scale
        table.landmark_ms += int(half_lives * self.params.half_life_ms)


def heaviest(groups: Ids, scores: Matrix, k: int) -> tuple[Ids, Ids]:
    """The positions of each group's `k` heaviest scores, and the rank of each in its
    group (0: the heaviest)."""
    order = np.argsort(-scores)
    order = order[np.argsort(groups[order], kind="stable")]
    _, bounds = runs(groups[order])
    rank = np.arange(order.size) - np.repeat(bounds[:-1], np.diff(bounds))
    keep = rank < k
    return order[keep], rank[keep]
