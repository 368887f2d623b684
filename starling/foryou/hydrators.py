"""For You's feature hydrators, each one batched read for the whole candidate batch:
engagement counts from the sharded counters, the authors' follower counts from the store.
See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from starling.cache.base import Counters
from starling.cache.errors import CacheUnavailable, degraded
from starling.mixer.candidates import Candidates, Ids, Scores
from starling.mixer.components import Hydrator
from starling.mixer.query import Query
from starling.model import FAVOURITES, REBLOGS
from starling.realgraph.arrays import lookup
from starling.store.base import Store


class EngagementCounts(Hydrator[Query]):
    """Favourites and reblogs of each row's source post (a repost counts its original's):
    one batched read per counter. Without the cache the counts are 0, not an error."""

    id = "engagement"

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        sources = np.unique(candidates.source_id).tolist()
        try:
            favourites = self.counters.get(FAVOURITES, sources)
            reblogs = self.counters.get(REBLOGS, sources)
        except CacheUnavailable as exc:
            degraded("for_you_counts", exc)
            return candidates
        return candidates.with_feature(
            "favourites", _looked_up(candidates.source_id, favourites)
        ).with_feature("reblogs", _looked_up(candidates.source_id, reblogs))


class AuthorFollowers(Hydrator[Query]):
    """Each author's follower, following and post counts, from one read of those three
    columns for the batch's authors (0 for an author not found)."""

    id = "author-followers"
    names = ("author_followers", "author_following", "author_statuses")

    def __init__(self, store: Store) -> None:
        self.store = store

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        authors, where = np.unique(candidates.author_id, return_inverse=True)
        found = self.store.account_counts(authors.tolist())
        at, known = lookup(found[:, 0], authors)
        counts = np.zeros((authors.size, len(self.names)))
        counts[known] = found[at[known], 1:]
        return candidates.with_features(self.names, counts[where])


def _looked_up(keys: Ids, values: Mapping[int, int]) -> Scores:
    return np.array([values.get(k, 0) for k in keys.tolist()], dtype=np.float64)
