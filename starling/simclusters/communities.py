"""One computed version of the communities: KnownFor (producer -> one cluster, with a
score) and InterestedIn (consumer -> sparse cluster weights, L2-normalized), as columns
sorted by account id. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from starling.realgraph.arrays import ranges

Ids = npt.NDArray[np.int64]
Clusters = npt.NDArray[np.int32]
Weights = npt.NDArray[np.float32]
EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float32))


@dataclass(frozen=True)
class Communities:
    version: str
    clusters: int
    producer_ids: Ids  # sorted
    known_for: Clusters  # each producer's cluster
    known_score: Weights  # how central the producer is to it (cosine to its centre)
    consumer_ids: Ids  # sorted
    interest_ptr: npt.NDArray[np.int64]  # CSR rows of InterestedIn, one per consumer
    interest_clusters: Clusters
    interest_weights: Weights

    def interested_in(self, account_id: int) -> tuple[Clusters, Weights]:
        """The account's InterestedIn vector as (clusters, weights), heaviest first."""
        row = int(np.searchsorted(self.consumer_ids, account_id))
        if row == self.consumer_ids.size or self.consumer_ids[row] != account_id:
            return EMPTY
        start, end = self.interest_ptr[row], self.interest_ptr[row + 1]
        return self.interest_clusters[start:end], self.interest_weights[start:end]

    def dense_interest(self, account_id: int) -> npt.NDArray[np.float64]:
        clusters, weights = self.interested_in(account_id)
        vector = np.zeros(self.clusters)
        vector[clusters] = weights
        return vector

    def sparse_interests(self, account_ids: Ids) -> sp.csr_matrix:
        """Each account's InterestedIn as a sparse row (empty for an account without one)."""
        ids, shape = self.consumer_ids, (len(account_ids), self.clusters)
        if not ids.size:
            return sp.csr_matrix(shape)
        at = np.minimum(np.searchsorted(ids, account_ids), ids.size - 1)
        found = ids[at] == account_ids
        starts = np.where(found, self.interest_ptr[at], 0)
        ends = np.where(found, self.interest_ptr[at + 1], 0)
        positions = ranges(starts, ends)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)])
        values = (self.interest_weights[positions], self.interest_clusters[positions], indptr)
        return sp.csr_matrix(values, shape=shape)

    def known_for_of(self, account_ids: Ids) -> Clusters:
        """Each account's KnownFor cluster, -1 for accounts that are not producers."""
        rows = np.minimum(
            np.searchsorted(self.producer_ids, account_ids), self.producer_ids.size - 1
        )
        found = self.producer_ids[rows] == account_ids
        return np.where(found, self.known_for[rows], -1).astype(np.int32)

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez(file, **{k: v for k, v in vars(self).items() if k != "version"})

    @classmethod
    def load(cls, path: Path, version: str) -> Communities:
        with np.load(path) as data:
            arrays: dict[str, Any] = {name: data[name] for name in data.files}
        arrays["clusters"] = int(arrays["clusters"])
        return cls(version=version, **arrays)
