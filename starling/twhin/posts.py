"""Post embeddings over one version of the account embeddings: a post's vector is the sum
of its author's embedding and its engagers' (like 1, repost 2, reply 2), in the ANN index
of the last 48 hours. A viewer's query is its own account embedding. Account embeddings
of another version live in other coordinates, so a new version means a new
`PostEmbeddings` (the worker rebuilds one from the store). See docs/subsystems/twhin.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from starling.engagements import EngagementKind
from starling.twhin.ann import AnnParams, Ids, PostIndex, Similarities
from starling.twhin.embeddings import Embeddings

AUTHOR = -1  # the contribution kind of a post's own author
WEIGHTS = {AUTHOR: 1.0, EngagementKind.LIKE: 1.0, EngagementKind.REPOST: 2.0,
           EngagementKind.REPLY: 2.0}  # fmt: skip
NONE: tuple[Ids, Similarities] = (np.zeros(0, np.int64), np.zeros(0))


class PostEmbeddings:
    def __init__(self, embeddings: Embeddings, params: AnnParams | None = None) -> None:
        self.embeddings = embeddings
        self.index = PostIndex(embeddings.dims, params)

    def add(self, post_ids: Ids, account_ids: Ids, weights: npt.NDArray[np.float64]) -> int:
        """Adds each account's embedding, weighted, to its post; accounts without an
        embedding add nothing. Returns the contributions added."""
        rows = self.embeddings.rows(account_ids)
        known = rows >= 0
        vectors = self.embeddings.vectors[rows[known]] * weights[known, None].astype(np.float32)
        self.index.add(post_ids[known], vectors)
        return int(known.sum())

    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Similarities]:
        """The `limit` posts nearest the viewer's embedding, with their cosine; none for
        a viewer without one."""
        vector = self.embeddings.vector(viewer_id)
        return NONE if vector is None else self.index.search(vector, limit)
