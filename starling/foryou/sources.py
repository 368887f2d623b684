"""For You's candidate sources: in-network first, then out-of-network sources, each
proposing posts from outside the viewer's follows with the accounts that vouch for them
(social proof). See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from starling.mixer.candidates import Candidates, Mask
from starling.mixer.components import Source
from starling.mixer.quality import scaled
from starling.mixer.query import Query
from starling.store.base import IdArray

IN_NETWORK = 0  # the in-network source's index: declared first, its rows win the merge
IN_NETWORK_CANDIDATES = 750
OUT_OF_NETWORK_CANDIDATES = 750
OUT_OF_NETWORK_TIMEOUT_S = 0.5

Proposal = tuple[int, tuple[int, ...]]  # a post id and the accounts vouching for it


class OutOfNetworkIndex(Protocol):
    """Posts the viewer's follows do not bring, best first (a real graph, communities,
    embeddings), each with its social proof."""

    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        """Up to `limit` posts for the viewer, who follows `following` (ascending)."""


class SizedSource(Source[Query]):
    """An out-of-network candidate pipeline asked for `limit` candidates, scaled by its
    quality factor; a subclass names it (`id`) and answers `fetch_limited`."""

    timeout_s = OUT_OF_NETWORK_TIMEOUT_S

    def __init__(self, limit: int = OUT_OF_NETWORK_CANDIDATES) -> None:
        self.limit = limit

    def fetch(self, query: Query) -> Candidates:
        return self.fetch_scaled(query, 1.0)

    def fetch_scaled(self, query: Query, quality: float) -> Candidates:
        return self.fetch_limited(query, scaled(self.limit, quality))

    @abstractmethod
    def fetch_limited(self, query: Query, limit: int) -> Candidates:
        """Up to `limit` candidates."""


class OutOfNetworkSource(SizedSource):
    """A candidate pipeline over one out-of-network index."""

    def __init__(self, index: OutOfNetworkIndex, limit: int = OUT_OF_NETWORK_CANDIDATES) -> None:
        super().__init__(limit)
        self.index = index

    def fetch_limited(self, query: Query, limit: int) -> Candidates:
        proposed = self.index.candidates(query.viewer_id, query.following, limit)
        batch = Candidates.of([post_id for post_id, _ in proposed])
        return batch.with_social_proof([proof for _, proof in proposed])


def in_network(candidates: Candidates) -> Mask:
    """Rows the in-network source produced (a post it shares with another source too)."""
    found: Mask = candidates.pipeline == IN_NETWORK
    return found
