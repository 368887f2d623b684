"""For You's out-of-network sources are asked for their quality factor's share of their
usual candidates: the real graph, SimClusters and TwHIN alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from starling.foryou.interest_sources import SimClustersSource, TwhinSource
from starling.foryou.realgraph_source import RealGraphSource
from starling.foryou.sources import OUT_OF_NETWORK_CANDIDATES, Proposal, SizedSource
from starling.mixer import Page, Query
from starling.mixer.candidates import Ids, Scores
from starling.store.base import IdArray

POOL = np.arange(1, 2 * OUT_OF_NETWORK_CANDIDATES + 1, dtype=np.int64)


class Everything:
    """An index with more posts than any source asks for; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def similar(self, viewer_id: int, limit: int) -> tuple[Ids, Scores]:
        self.asked.append(limit)
        return POOL[:limit], np.ones(min(limit, POOL.size))

    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        self.asked.append(limit)
        return [(p, (7,)) for p in POOL[:limit].tolist()]


SOURCES: dict[str, Callable[[Everything], SizedSource]] = {
    "real graph": RealGraphSource,
    "simclusters": SimClustersSource,
    "twhin": TwhinSource,
}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("quality", "expected"), [(1.0, 750), (0.5, 375), (0.1, 75)])
def test_a_source_fetches_its_quality_factors_share(
    source: str, quality: float, expected: int
) -> None:
    index = Everything()
    query = Query(1, Page(limit=35))

    fetched = SOURCES[source](index).fetch_scaled(query, quality)

    assert index.asked == [expected]
    assert len(fetched) == expected
    assert len(SOURCES[source](index).fetch(query)) == OUT_OF_NETWORK_CANDIDATES
