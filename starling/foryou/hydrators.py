"""For You's feature hydrators, each one batched read for the whole candidate batch:
engagement counts from the sharded counters, the authors' follower counts from the store
(kept a minute). See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from starling.cache.base import Counters
from starling.cache.errors import CacheUnavailable, degraded
from starling.ids import now_ms
from starling.mixer.candidates import Candidates, Ids, Scores
from starling.mixer.components import Hydrator
from starling.mixer.kept import Kept
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


KEPT_AUTHORS = 131_072
COUNTS_MAX_AGE_MS = 60_000  # a feature need not be fresher: a count moves little in a minute

# (read at ms, (followers, following, statuses)) per author
KeptCounts = Kept[tuple[int, tuple[int, int, int]]]


class AuthorFollowers(Hydrator[Query]):
    """Each author's follower, following and post counts (0 for an author not found):
    kept in process up to COUNTS_MAX_AGE_MS, the rest read in one call of those three
    columns for the batch's authors."""

    id = "author-followers"
    names = ("author_followers", "author_following", "author_statuses")

    def __init__(self, store: Store, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock
        self.kept: KeptCounts = Kept(KEPT_AUTHORS)

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        authors, where = np.unique(candidates.author_id, return_inverse=True)
        now, wanted = self.clock(), authors.tolist()
        fresh = [
            k if k is not None and now - k[0] <= COUNTS_MAX_AGE_MS else None
            for k in self.kept.many(wanted)
        ]
        counts = np.array([(0, 0, 0) if k is None else k[1] for k in fresh], np.float64)
        stale = np.flatnonzero([k is None for k in fresh])
        if stale.size:
            found = self.store.account_counts(authors[stale].tolist())
            at, known = lookup(found[:, 0], authors[stale])
            read = np.zeros((stale.size, len(self.names)), np.int64)
            read[known] = found[at[known], 1:]
            counts[stale] = read
            rows = [(now, (a, b, c)) for a, b, c in read.tolist()]
            self.kept.put(zip(authors[stale].tolist(), rows, strict=True))
        return candidates.with_features(self.names, counts.reshape(-1, len(self.names))[where])


def _looked_up(keys: Ids, values: Mapping[int, int]) -> Scores:
    return np.array([values.get(k, 0) for k in keys.tolist()], dtype=np.float64)
