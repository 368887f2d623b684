"""The vectors of a batch's posts summed from their engagers in the real graph: one read
of every engagement with the batch, then a sparse post x engager matrix times the
engagers' vectors, so no dense row is built per engagement. SimClusters and TwHIN
features both read posts this way, through an `EngagerSums` each: a post's sum is kept
until its edges change or the model does, so a popular post is summed once for every
viewer it is a candidate for. See docs/subsystems/ranking.md#engager-sums.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from starling.engagements import Engagements
from starling.ranking.columns import Ids, Matrix
from starling.realgraph import RealGraph, Snapshot

# The engagers' vectors, one row per account asked for (dense or sparse).
VectorsOf = Callable[[Ids], Matrix | sp.csr_matrix]
# Each engagement's weight in its post's sum.
WeightOf = Callable[[Engagements], npt.NDArray[np.float64]]

CACHED_POSTS = 1 << 17  # ~114 MB of float32 sums at 217 SimClusters clusters


def engager_sums(
    snapshot: Snapshot, post_ids: Ids, vectors_of: VectorsOf, weight_of: WeightOf, dims: int
) -> Matrix:
    """(rows x dims): each row's post vector (zeros for a post without an engagement)."""
    edges = snapshot.engagers_of(post_ids)
    out = np.zeros((len(post_ids), dims))
    if not edges.size:
        return out
    posts, post_row = np.unique(edges.post, return_inverse=True)
    engagers, engager_row = np.unique(edges.account, return_inverse=True)
    weights = (weight_of(edges), (post_row, engager_row))
    incidence = sp.csr_matrix(weights, shape=(posts.size, engagers.size))
    summed = incidence @ vectors_of(engagers)
    sums = summed.toarray() if sp.issparse(summed) else np.asarray(summed)
    at = np.minimum(np.searchsorted(posts, post_ids), posts.size - 1)
    found = posts[at] == post_ids
    out[found] = sums[at[found]]
    return out


class EngagerSums:
    """`engager_sums` of one model's vectors, kept per post (float32, in a ring of
    `capacity` slots) with the generation of the snapshot it was read from. A kept sum
    serves while the graph says the post's edges have not changed since
    (`RealGraph.stale`); a new model starts afresh. Requests share it: the slots change
    under a lock, the sums of the posts not kept are read outside it."""

    def __init__(self, graph: RealGraph, capacity: int = CACHED_POSTS) -> None:
        self.graph = graph
        self.capacity = capacity
        self.hits = self.misses = 0  # posts served kept, and summed afresh
        self._lock = threading.Lock()
        self._model: object | None = None
        self._slot_of: dict[int, int] = {}
        self._post = np.full(capacity, -1, np.int64)
        self._generation = np.zeros(capacity, np.int64)
        self._sums = np.zeros((capacity, 0), np.float32)
        self._next = 0

    def sums(
        self, model: object, post_ids: Ids, vectors_of: VectorsOf, weight_of: WeightOf, dims: int
    ) -> Matrix:
        """As `engager_sums` for `model`'s vectors (of `dims` each)."""
        snapshot = self.graph.snapshot()
        posts, where = np.unique(post_ids, return_inverse=True)
        out = np.zeros((posts.size, dims))
        with self._lock:
            if model is not self._model or self._sums.shape[1] != dims:
                self._reset(model, dims)
            slots = np.fromiter(
                (self._slot_of.get(p, -1) for p in posts.tolist()), np.int64, posts.size
            )
            kept = slots >= 0
            kept[kept] = ~self.graph.stale(posts[kept], self._generation[slots[kept]])
            out[kept] = self._sums[slots[kept]]
            self.hits += int(kept.sum())
            self.misses += int(posts.size - kept.sum())
        missing = posts[~kept]
        if missing.size:
            out[~kept] = engager_sums(snapshot, missing, vectors_of, weight_of, dims)
            with self._lock:
                if model is self._model:
                    self._keep(missing, out[~kept], snapshot.generation)
        return out[where]

    def _reset(self, model: object, dims: int) -> None:
        self._model = model
        self._slot_of.clear()
        self._post[:] = -1
        self._sums = np.zeros((self.capacity, dims), np.float32)
        self._next = 0

    def _keep(self, posts: Ids, sums: Matrix, generation: int) -> None:
        """Stores the sums read from the snapshot of `generation`: a post kept before
        keeps its slot, the others take the ring's next slots (the oldest give theirs up)."""
        posts, sums = posts[-self.capacity :], sums[-self.capacity :]
        slots = np.fromiter(
            (self._slot_of.get(p, -1) for p in posts.tolist()), np.int64, posts.size
        )
        new = slots < 0
        taken = (self._next + np.arange(int(new.sum()))) % self.capacity
        self._next = int(self._next + taken.size) % self.capacity
        for old in self._post[taken].tolist():
            self._slot_of.pop(old, None)
        slots[new] = taken
        # A post kept before whose slot the ring just gave away is not kept.
        stays = new | ~np.isin(slots, taken)
        posts, sums, slots = posts[stays], sums[stays], slots[stays]
        self._slot_of.update(zip(posts.tolist(), slots.tolist(), strict=True))
        self._post[slots] = posts
        self._sums[slots] = sums
        self._generation[slots] = generation


def cosines(rows: Matrix | sp.csr_matrix, vector: Matrix) -> Matrix:
    """Each row's cosine with `vector` (0 for a zero row); sparse rows stay sparse."""
    if isinstance(rows, np.ndarray):
        squares = (rows * rows).sum(axis=1)
    else:
        squares = rows.multiply(rows).sum(axis=1)
    norms = np.sqrt(np.asarray(squares, np.float64).ravel()) * np.linalg.norm(vector)
    found: Matrix = np.asarray(rows @ vector, np.float64).ravel() / np.maximum(norms, 1e-12)
    return found
