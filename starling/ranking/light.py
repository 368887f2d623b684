"""The light ranker as For You's scorer (numpy over the whole batch), the cut that hands
its best 500 to the heavy ranker, and the explanation of a served entry's light score.
Without a trained model yet, the heuristic scorer scores instead (and says so).
See docs/subsystems/ranking.md#light-ranker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from starling.artifacts import Newest
from starling.mixer.candidates import FEATURES, Candidates, Scores
from starling.mixer.components import Scorer
from starling.mixer.query import Query
from starling.ranking.model import LightModel

KEEP = 500  # candidates the light ranker passes to the heavy ranker (1,500 -> 500)
TOP_FEATURES = 5


class LightRanker(Scorer[Query]):
    id = "light-ranker"

    def __init__(self, models: Newest[LightModel] | None, fallback: Scorer[Query]) -> None:
        self.models = models
        self.fallback = fallback

    def model(self) -> LightModel | None:
        return None if self.models is None else self.models.current()

    def score(self, query: Query, candidates: Candidates) -> Scores:
        model = self.model()
        if model is None:
            return self.fallback.score(query, candidates)
        return model.probabilities(candidates.features, FEATURES)

    def explain(self, candidates: Candidates) -> list[dict[str, Any]]:
        """Per row: which model scored it, and the features with the largest
        contributions to its light score (largest magnitude first)."""
        model = self.model()
        if model is None:
            return [{"model": self.fallback.id, "top_features": []}] * len(candidates)
        shares = model.contributions(candidates.features, FEATURES)
        scores = model.probabilities(candidates.features, FEATURES)
        top = np.argsort(-np.abs(shares), axis=1, kind="stable")[:, :TOP_FEATURES]
        at = {name: i for i, name in enumerate(FEATURES)}
        return [
            {
                "model": f"light-{model.version}",
                "light_score": round(float(scores[row]), 6),
                "top_features": [
                    {
                        "name": model.feature_names[j],
                        "value": _value(candidates, row, at.get(model.feature_names[j])),
                        "contribution": round(float(shares[row, j]), 4),
                    }
                    for j in top[row].tolist()
                ],
            }
            for row in range(len(candidates))
        ]


class LightCut(Scorer[Query]):
    """The 1,500 -> 500 step: runs a heavier scorer (the heavy ranker) on the best
    `keep` rows by the light score only, in one call; the other rows keep their light
    order below every scored one. A plain scorer, so a ranking rung can hold it after
    the light ranker."""

    id = "light-cut"

    def __init__(self, heavier: Scorer[Query], keep: int = KEEP) -> None:
        self.heavier = heavier
        self.keep = keep

    def score(self, query: Query, candidates: Candidates) -> Scores:
        light = candidates.score
        if len(candidates) <= self.keep:
            return self.heavier.score(query, candidates)
        top = np.argsort(-light, kind="stable")[: self.keep]
        heavy = self.heavier.score(query, candidates.take(top))
        # Below the lowest heavy score, in light order (light scores are in [0, 1]).
        scores: Scores = float(heavy.min()) - 2.0 + light / max(float(light.max()), 1e-12)
        scores[top] = heavy
        return scores


def _value(candidates: Candidates, row: int, column: int | None) -> float | None:
    return None if column is None else float(candidates.features[row, column])
