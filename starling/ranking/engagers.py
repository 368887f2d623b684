"""The vectors of a batch's posts summed from their engagers in the real graph: one read
of every engagement with the batch, then a sparse post x engager matrix times the
engagers' vectors, so no dense row is built per engagement. SimClusters and TwHIN
features both read posts this way. See docs/subsystems/ranking.md#features.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from starling.engagements import Engagements
from starling.ranking.columns import Ids, Matrix
from starling.realgraph import RealGraph

Mask = npt.NDArray[np.bool_]
# The engagers' vectors, one row per account asked for (dense or sparse).
VectorsOf = Callable[[Ids], Matrix | sp.csr_matrix]
# Each engagement's weight in its post's sum.
WeightOf = Callable[[Engagements], npt.NDArray[np.float64]]


def engager_sums(
    graph: RealGraph, post_ids: Ids, vectors_of: VectorsOf, weight_of: WeightOf, dims: int
) -> tuple[Matrix, Mask]:
    """(rows x dims, found): each row's post vector, and whether the post has an
    engagement in the graph (zeros where not)."""
    edges = graph.snapshot().engagers_of(post_ids)
    out = np.zeros((len(post_ids), dims))
    if not edges.size:
        return out, np.zeros(len(post_ids), np.bool_)
    posts, post_row = np.unique(edges.post, return_inverse=True)
    engagers, engager_row = np.unique(edges.account, return_inverse=True)
    weights = (weight_of(edges), (post_row, engager_row))
    incidence = sp.csr_matrix(weights, shape=(posts.size, engagers.size))
    summed = incidence @ vectors_of(engagers)
    sums = summed.toarray() if sp.issparse(summed) else np.asarray(summed)
    at = np.minimum(np.searchsorted(posts, post_ids), posts.size - 1)
    found = posts[at] == post_ids
    out[found] = sums[at[found]]
    return out, found


def cosines(rows: Matrix, vector: Matrix) -> Matrix:
    """Each row's cosine with `vector` (0 for a zero row)."""
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(vector)
    found: Matrix = (rows @ vector) / np.maximum(norms, 1e-12)
    return found
