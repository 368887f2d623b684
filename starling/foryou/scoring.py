"""The heuristic scorer: a transparent stand-in until the trained light and heavy rankers
replace it. score = recency decay x engagement x author reach x in-network boost.
See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import numpy as np

from starling.foryou.filters import Clock
from starling.foryou.sources import in_network
from starling.mixer.candidates import Candidates, Scores
from starling.mixer.components import Scorer
from starling.mixer.query import Query

HALF_LIFE_MS = 6 * 3600 * 1000  # a post loses half its score every six hours
REBLOG_WEIGHT = 2.0  # a reblog spreads a post further than a favourite
REACH_WEIGHT = 0.1
IN_NETWORK_BOOST = 2.0


class HeuristicScorer(Scorer[Query]):
    id = "heuristic-score"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def score(self, query: Query, candidates: Candidates) -> Scores:
        age_ms = np.maximum(self.clock() - candidates.created_at, 0)
        recency = 0.5 ** (age_ms / HALF_LIFE_MS)
        engaged = candidates.feature("favourites") + REBLOG_WEIGHT * candidates.feature("reblogs")
        engagement = 1.0 + np.log1p(engaged)
        reach = 1.0 + REACH_WEIGHT * np.log1p(candidates.feature("author_followers"))
        boost = np.where(in_network(candidates), IN_NETWORK_BOOST, 1.0)
        scores: Scores = recency * engagement * reach * boost
        return scores
