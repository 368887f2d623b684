"""A viewer's SimClusters candidates: InterestedIn -> its top clusters -> their top posts
-> an approximate dot product to a shortlist -> exact cosine re-rank, all on arrays.
See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.simclusters.communities import Clusters, Weights
from starling.simclusters.posts import PostTable, PostVectors

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]
NONE: tuple[Ids, Scores] = (np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True)
class CandidateParams:
    limit: int = 300
    top_clusters: int = 10  # of the viewer's InterestedIn
    shortlist: int = 1_000  # posts re-ranked by exact cosine


def candidates(
    posts: PostVectors, viewer_id: int, params: CandidateParams | None = None
) -> tuple[Ids, Scores]:
    """Up to `limit` (post ids, cosine scores), best first."""
    params = params or CandidateParams()
    table = posts.table  # taken once: the worker may swap in a new version meanwhile
    if table is None:
        return NONE
    clusters, weights = table.model.interested_in(viewer_id)
    if clusters.size == 0:
        return NONE
    slots = _shortlist(table, clusters[: params.top_clusters], weights, params.shortlist)
    cosine = _cosine(table, slots, table.model.dense_interest(viewer_id))
    best = _top(cosine, params.limit)
    return table.slot_post[slots[best]], cosine[best]


def _shortlist(table: PostTable, clusters: Clusters, weights: Weights, size: int) -> Ids:
    """Slots of the posts with the largest dot product over the chosen clusters' tops."""
    slots = table.top_slot[clusters].ravel()
    live = table.top_post[clusters].ravel()
    approx = (weights[: clusters.size, None] * table.top_score[clusters]).ravel()
    # An entry is live while its slot still holds its post (a ring slot may be reused).
    keep = (live >= 0) & (table.slot_post[slots] == live)
    unique, where = np.unique(slots[keep], return_inverse=True)
    dot = np.asarray(np.bincount(where, approx[keep], minlength=unique.size), np.float64)
    return unique[_top(dot, size)]


def _cosine(table: PostTable, slots: Ids, viewer: npt.NDArray[np.float64]) -> Scores:
    clusters, weights = table.clusters[slots], table.weights[slots]
    dot = (weights * np.where(clusters >= 0, viewer[clusters], 0.0)).sum(axis=1)
    norms = np.linalg.norm(weights, axis=1) * np.linalg.norm(viewer)
    return np.asarray(dot / np.maximum(norms, 1e-12))


def _top(values: npt.NDArray[np.floating[Any]], k: int) -> Ids:
    """Indices of the k largest values, largest first."""
    if values.size > k:
        part = np.argpartition(-values, k - 1)[:k]
        return part[np.argsort(-values[part], kind="stable")]
    return np.argsort(-values, kind="stable")
