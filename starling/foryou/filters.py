"""For You's own filters (the shared ones are in starling/mixer/filters.py): own posts,
age, social proof, served before, seen before, author diversity. Each returns a keep-mask for the
whole batch. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from starling.cache.base import ServedEntries
from starling.cache.errors import CacheUnavailable, degraded
from starling.foryou.sources import in_network
from starling.mixer.candidates import Candidates, Mask
from starling.mixer.components import Filter
from starling.mixer.query import Query
from starling.window import WINDOW_MS

Clock = Callable[[], int]  # ms since the epoch

POSTS_PER_AUTHOR = 3
MIN_SIMILARITY = 0.2  # cosine, viewer to post, of an interest-based source (benchmarks.md)


class NotOwn(Filter[Query]):
    """Not posted (nor reposted) by the viewer."""

    id = "not-own"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        keep: Mask = candidates.author_id != query.viewer_id
        return keep


class Recent(Filter[Query]):
    """Posted (or reposted) in the last 48 hours."""

    id = "recent"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        keep: Mask = candidates.created_at >= self.clock() - WINDOW_MS
        return keep


class SocialProof(Filter[Query]):
    """In-network, or vouched for by at least one account (a graph source names who
    engaged with it), or near the viewer's interests: an interest-based source's
    similarity at `MIN_SIMILARITY` or above (starling/foryou/interest_sources.py)."""

    id = "social-proof"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        vouched = np.fromiter(
            (len(proof) > 0 for proof in candidates.social_proof.tolist()),
            dtype=np.bool_,
            count=len(candidates),
        )
        near = candidates.feature("similarity") >= MIN_SIMILARITY
        keep: Mask = in_network(candidates) | vouched | near
        return keep


class NotServed(Filter[Query]):
    """Neither the entry nor its source post was served to the viewer before (while the
    served record lasts): one cache read. Without the cache nothing is removed."""

    id = "not-served"
    operation = "for_you_served"  # what a cache outage is counted as

    def __init__(self, served: ServedEntries) -> None:
        self.served = served

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        asked = np.unique(np.concatenate([candidates.post_id, candidates.source_id]))
        try:
            served = self.served.served_among(query.viewer_id, asked)
        except CacheUnavailable as exc:
            degraded(self.operation, exc)
            return np.ones(len(candidates), dtype=np.bool_)
        keep: Mask = ~(np.isin(candidates.post_id, served) | np.isin(candidates.source_id, served))
        return keep


class NotSeen(NotServed):
    """Neither the entry nor its source post was reported seen by the viewer (the `seen`
    record, as the served one: an entry served but scrolled past unseen is still left
    out by `not-served`; one seen in another session or client is left out here)."""

    id = "not-seen"
    operation = "for_you_seen"


class AuthorDiversity(Filter[Query]):
    """At most 3 entries per author, the newest, so that one prolific account cannot fill
    a page. Runs last: it keeps the newest among the entries every other filter kept."""

    id = "author-diversity"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        # Sorted by author, newest first within one; the rank is the position in its run.
        order = np.lexsort((-candidates.post_id, candidates.author_id))
        authors = candidates.author_id[order]
        starts = np.flatnonzero(np.r_[True, authors[1:] != authors[:-1]])
        run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        keep = np.zeros(len(candidates), dtype=np.bool_)
        keep[order[np.arange(len(order)) - run_start < POSTS_PER_AUTHOR]] = True
        return keep
