"""For You's interest-based candidate pipelines: SimClusters and TwHIN propose posts near
the viewer's interests, and say how near (cosine) in the `similarity` feature. That
similarity is their evidence where graph sources name accounts: the `social-proof`
filter keeps their rows at `MIN_SIMILARITY` or above. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from starling.foryou.sources import OUT_OF_NETWORK_CANDIDATES, SizedSource
from starling.mixer.candidates import Candidates, Ids, Scores
from starling.mixer.components import Source
from starling.mixer.query import Query
from starling.simclusters.candidates import CandidateParams, candidates
from starling.simclusters.posts import PostVectors
from starling.twhin.posts import PostEmbeddings
from starling.workers.base import Worker
from starling.workers.simclusters import SimClustersWorker
from starling.workers.twhin import TwhinWorker

NONE: tuple[Ids, Scores] = (np.zeros(0, np.int64), np.zeros(0))


class InterestIndex(Protocol):
    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
        """Up to `limit` (post ids, cosine to the viewer), nearest first."""


class InterestSource(SizedSource):
    """A candidate pipeline over one interest index; a subclass names it (`id`)."""

    def __init__(self, index: InterestIndex, limit: int = OUT_OF_NETWORK_CANDIDATES) -> None:
        super().__init__(limit)
        self.index = index

    def fetch_limited(self, query: Query, limit: int) -> Candidates:
        post_ids, similarity = self.index.similar(query.viewer_id, limit)
        return Candidates.of(post_ids).with_feature("similarity", similarity)


class SimClustersPosts:
    """The simclusters worker's post vectors, asked as an interest index."""

    def __init__(self, posts: PostVectors) -> None:
        self.posts = posts

    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
        shortlist = max(CandidateParams.shortlist, 2 * limit)
        params = CandidateParams(limit=limit, shortlist=shortlist)
        return candidates(self.posts, viewer_id, params)


class TwhinPosts:
    """The twhin worker's ANN index of post embeddings (swapped whole on a new version:
    read once per query)."""

    def __init__(self, current: Callable[[], PostEmbeddings | None]) -> None:
        self.current = current

    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
        posts = self.current()
        return NONE if posts is None else posts.similar(viewer_id, limit)


class SimClustersSource(InterestSource):
    id = "simclusters"


class TwhinSource(InterestSource):
    id = "twhin"


def interest_sources(workers: Mapping[str, Worker]) -> list[Source[Query]]:
    """The interest-based sources over the in-process state their workers write."""
    simclusters, twhin = workers[SimClustersWorker.name], workers[TwhinWorker.name]
    assert isinstance(simclusters, SimClustersWorker) and isinstance(twhin, TwhinWorker)
    return [
        SimClustersSource(SimClustersPosts(simclusters.posts)),
        TwhinSource(TwhinPosts(lambda: twhin.posts)),
    ]
