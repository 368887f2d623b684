"""TwHIN features of a batch: the cosine between the viewer's account embedding and each
author's, and between the viewer's and each post's vector, where a post's vector is
built as the TwHIN index builds it (its author's embedding plus its engagers', weighted
by kind: starling/twhin/posts.py) from the real graph's engagements. Both read the newest
embeddings; the post vectors need no index, so the same code serves requests and the
impressions the rankers learn from. See docs/subsystems/ranking.md#features and
docs/subsystems/twhin.md.
"""

from __future__ import annotations

import numpy as np

from starling.artifacts import Newest
from starling.engagements import EngagementKind, Engagements
from starling.ranking.columns import Ids, Matrix
from starling.ranking.engagers import EngagerSums, cosines
from starling.realgraph import RealGraph
from starling.twhin.embeddings import Embeddings
from starling.twhin.posts import AUTHOR, WEIGHTS

COLUMNS = 2  # author cosine, post cosine
# An engagement's weight in its post's vector, indexed by its EngagementKind.
KIND_WEIGHTS = np.array([WEIGHTS[kind] for kind in EngagementKind], dtype=np.float64)


class TwhinReader:
    def __init__(
        self, embeddings: Newest[Embeddings] | None, graph: RealGraph | None = None
    ) -> None:
        self.embeddings = embeddings
        self.engagers = None if graph is None else EngagerSums(graph)

    def features(self, viewer_id: int, author_ids: Ids, post_ids: Ids) -> Matrix:
        """(rows x 2); zeros before the job has run once, or for a viewer without an
        embedding."""
        out = np.zeros((len(author_ids), COLUMNS))
        model = None if self.embeddings is None else self.embeddings.current()
        viewer = None if model is None else model.vector(viewer_id)
        if model is None or viewer is None:
            return out
        authors = _vectors(model, author_ids)
        viewer_row = viewer.astype(np.float64)
        out[:, 0] = authors @ viewer_row  # unit rows: the dot product is the cosine
        posts = authors * WEIGHTS[AUTHOR]
        if self.engagers is not None:
            engaged = self.engagers.sums(
                model, post_ids, lambda ids: _vectors(model, ids), _weights, model.dims
            )
            posts = posts + engaged
        out[:, 1] = cosines(posts, viewer_row)
        return out


def _vectors(model: Embeddings, account_ids: Ids) -> Matrix:
    """Each account's embedding (zeros for an account without one)."""
    rows = model.rows(account_ids)
    found: Matrix = np.where(
        (rows >= 0)[:, None], model.vectors[np.maximum(rows, 0)], np.float32(0.0)
    ).astype(np.float64)
    return found


def _weights(edges: Engagements) -> Matrix:
    weights: Matrix = KIND_WEIGHTS[edges.kind]
    return weights
