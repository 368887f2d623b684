"""The approximate nearest-neighbour index of post vectors: HNSW (usearch) under cosine
distance. Adding to a post already in it adds to its vector (remove, then insert the
sum); `expire` removes posts older than the window. One lock: the worker writes while
requests search, and usearch's high-level wrapper is not documented as safe for a
removal during a search. See docs/subsystems/twhin.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from usearch.index import Index

from starling.ids import SEQUENCE_BITS

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Similarities = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AnnParams:
    connectivity: int = 16  # HNSW neighbours per node
    expansion_add: int = 64
    expansion_search: int = 600  # at least the largest `limit` asked


class PostIndex:
    def __init__(self, dims: int, params: AnnParams | None = None) -> None:
        params = params or AnnParams()
        self.dims = dims
        self._index = Index(
            ndim=dims,
            metric="cos",
            dtype="f32",
            connectivity=params.connectivity,
            expansion_add=params.expansion_add,
            expansion_search=params.expansion_search,
        )
        self._posts: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._posts)

    def add(self, post_ids: Ids, vectors: Vectors) -> None:
        """Adds each vector to its post's (rows of one post are summed first)."""
        if not len(post_ids):
            return
        keys, where = np.unique(post_ids, return_inverse=True)
        sums = np.zeros((keys.size, self.dims), np.float32)
        np.add.at(sums, where, vectors)
        with self._lock:
            present = np.fromiter((k in self._posts for k in keys.tolist()), np.bool_, keys.size)
            if present.any():
                old = keys[present].astype(np.uint64)
                sums[present] += np.asarray(self._index.get(old), np.float32)
                self._index.remove(old)
            self._index.add(keys.astype(np.uint64), sums)
            self._posts.update(keys.tolist())

    def vectors(self, post_ids: Ids) -> Vectors:
        """The posts' summed vectors (for tests)."""
        with self._lock:
            return np.asarray(self._index.get(post_ids.astype(np.uint64)), np.float32)

    def expire(self, before_ms: int) -> int:
        """Removes the posts created before `before_ms`; returns how many."""
        with self._lock:
            posts = np.fromiter(self._posts, np.int64, len(self._posts))
            old = posts[(posts >> SEQUENCE_BITS) < before_ms]
            if old.size:
                self._index.remove(old.astype(np.uint64))
                self._posts.difference_update(old.tolist())
        return int(old.size)

    def search(self, vector: Vectors, limit: int) -> tuple[Ids, Similarities]:
        """The `limit` posts nearest to `vector`, nearest first, with their cosine."""
        with self._lock:
            if not self._posts:
                return np.zeros(0, np.int64), np.zeros(0)
            found = self._index.search(vector, min(limit, len(self._posts)))
        keys = np.asarray(found.keys, np.int64)  # as many as it found
        return keys, 1.0 - np.asarray(found.distances, np.float64)
