"""Post vectors from likes, as they happen: each like adds the liker's InterestedIn vector
to the post's, and each cluster keeps its top posts.

A post's vector is truncated to its `width` heaviest clusters (as SimClusters' tweet
vectors are), in a ring of `capacity` post slots: the oldest post gives its slot up.
Likes are weighted by forward decay, 2 ** ((t - landmark) / half_life), so a newer like
counts more and no stored weight ever needs a periodic decay pass; all weights are
rescaled when the exponent grows large. The table belongs to one version of the
communities (cluster numbers mean nothing across versions): `PostVectors.reset` swaps in a
fresh one, and readers take `PostVectors.table` once per query. One writer (the worker).
See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from starling.applied import AppliedKeys
from starling.simclusters.communities import Clusters, Communities, Weights

HOUR_MS = 3_600_000
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
        """Adds the liker's InterestedIn to the post's vector; False when already applied
        (re-delivery) or when there is no table or interest to add."""
        table = self.table
        if table is None or not self._applied.first_time((post_id, liker_id)):
            return False
        clusters, weights = table.model.interested_in(liker_id)
        if clusters.size == 0:
            return False
        self._rebase_for(table, at_ms)
        boost = 2.0 ** ((at_ms - table.landmark_ms) / self.params.half_life_ms)
        slot = self._slot(table, post_id)
        self._merge(table, slot, clusters, weights * boost)
        self._update_tops(table, slot, post_id)
        return True

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

    def _slot(self, table: PostTable, post_id: int) -> int:
        slot = self._slot_of.get(post_id)
        if slot is not None:
            return slot
        slot = self._next_slot
        self._next_slot = (slot + 1) % self.params.capacity
        self._evict(table, slot)
        self._slot_of[post_id] = slot
        table.slot_post[slot] = post_id
        return slot

    def _evict(self, table: PostTable, slot: int) -> None:
        old = int(table.slot_post[slot])
        if old < 0:
            return
        del self._slot_of[old]
        for cluster in table.clusters[slot][table.clusters[slot] >= 0]:
            table.top_score[cluster][table.top_post[cluster] == old] = 0.0
            table.top_post[cluster][table.top_post[cluster] == old] = -1
        table.clusters[slot] = -1
        table.weights[slot] = 0.0

    def _merge(self, table: PostTable, slot: int, clusters: Clusters, added: Weights) -> None:
        used = table.clusters[slot] >= 0
        every = np.concatenate([table.clusters[slot][used], clusters])
        ids, where = np.unique(every, return_inverse=True)
        sums = np.bincount(where, np.concatenate([table.weights[slot][used], added]))
        top = np.argsort(-sums)[: self.params.width]
        table.clusters[slot] = -1
        table.weights[slot] = 0.0
        table.clusters[slot, : top.size] = ids[top]
        table.weights[slot, : top.size] = sums[top]

    def _update_tops(self, table: PostTable, slot: int, post_id: int) -> None:
        """Puts the post's new weight in each of its clusters' top lists (bumping the
        weakest entry when it is not there yet)."""
        for cluster, weight in zip(table.clusters[slot], table.weights[slot], strict=True):
            if cluster < 0:
                break
            posts, scores = table.top_post[cluster], table.top_score[cluster]
            found = np.flatnonzero(posts == post_id)
            entry = int(found[0]) if found.size else int(np.argmin(scores))
            if found.size or weight > scores[entry]:
                posts[entry], scores[entry] = post_id, weight
                table.top_slot[cluster, entry] = slot

    def _rebase_for(self, table: PostTable, at_ms: int) -> None:
        half_lives = (at_ms - table.landmark_ms) // self.params.half_life_ms
        if half_lives < REBASE_HALF_LIVES:
            return
        scale = 2.0**-half_lives
        table.weights *= scale
        table.top_score *= scale
        table.landmark_ms += int(half_lives * self.params.half_life_ms)
