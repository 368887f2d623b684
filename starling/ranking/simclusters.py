"""SimClusters features of a batch: the viewer's InterestedIn against each author's
InterestedIn (cosine), against each author's KnownFor cluster, against each post's
vector (cosine), and against the sum of the InterestedIn of the accounts that engaged
with each post in the real graph (cosine: a post vector that needs no history of likes),
from the newest communities, the in-process post vectors and the real graph.
See docs/subsystems/ranking.md#features and docs/subsystems/simclusters.md.
"""

from __future__ import annotations

import numpy as np

from starling.artifacts import Newest
from starling.ranking.columns import Ids, Matrix
from starling.ranking.engagers import EngagerSums, cosines
from starling.realgraph import RealGraph
from starling.simclusters.communities import Communities
from starling.simclusters.posts import PostVectors

COLUMNS = 4  # author cosine, KnownFor interest, post cosine, engagers cosine


class SimClustersReader:
    def __init__(
        self,
        communities: Newest[Communities] | None,
        posts: PostVectors | None = None,
        graph: RealGraph | None = None,
    ) -> None:
        self.communities = communities
        self.posts = posts
        self.engagers = None if graph is None else EngagerSums(graph)

    def features(self, viewer_id: int, author_ids: Ids, post_ids: Ids) -> Matrix:
        """(rows x 4); zeros before the job has run once."""
        out = np.zeros((len(author_ids), COLUMNS))
        model = None if self.communities is None else self.communities.current()
        if model is None:
            return out
        viewer = model.dense_interest(viewer_id)
        if not viewer.any():
            return out
        authors, where = np.unique(author_ids, return_inverse=True)
        out[:, 0] = cosines(model.sparse_interests(authors), viewer)[where]
        known = model.known_for_of(author_ids)
        out[:, 1] = np.where(known >= 0, viewer[np.maximum(known, 0)], 0.0)
        out[:, 2] = self._post_cosines(model, viewer, post_ids)
        out[:, 3] = self._engager_cosines(model, viewer, post_ids)
        return out

    def _engager_cosines(self, model: Communities, viewer: Matrix, post_ids: Ids) -> Matrix:
        """Each post's sum of its engagers' InterestedIn in the real graph, kept across
        requests until the post's edges change (ranking/engagers.py)."""
        if self.engagers is None:
            return np.zeros(len(post_ids))
        vectors = self.engagers.sums(
            model,
            post_ids,
            model.sparse_interests,
            lambda edges: np.ones(edges.size),
            model.clusters,
        )
        return cosines(vectors, viewer)

    def _post_cosines(self, model: Communities, viewer: Matrix, post_ids: Ids) -> Matrix:
        """Each post's top clusters against the viewer's dense vector: a gather of the
        viewer's weight at each cluster, no dense row per post."""
        out = np.zeros(len(post_ids))
        if self.posts is None:
            return out
        table, slots = self.posts.vectors(post_ids)
        if table is None or table.model is not model:  # vectors of another version
            return out
        has = slots >= 0
        clusters = table.clusters[slots[has]]
        weights = np.where(clusters >= 0, table.weights[slots[has]], 0.0)
        dots = (weights * viewer[np.maximum(clusters, 0)]).sum(axis=1)
        norms = np.sqrt((weights * weights).sum(axis=1)) * np.linalg.norm(viewer)
        out[has] = dots / np.maximum(norms, 1e-12)
        return out
