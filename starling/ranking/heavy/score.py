"""The heavy ranker's final score: the weighted sum of the five probabilities, then the
out-of-network factor and the author-diversity decay (Twitter's 2023 home mixer: a
weighted sum of P(action), then multiplicative heuristics). The weights are settings.
See docs/subsystems/heavy_ranker.md#final-score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.config import Settings
from starling.mixer.candidates import Ids, Mask, Scores
from starling.world.engagement import ACTIONS


@dataclass(frozen=True)
class ScoreWeights:
    """Defaults in the settings (`STARLING_HEAVY_*`): Twitter's 2023 weights, where
    `click` is its "good click" (11), a click on the post as the world's P(click) is, not
    a profile click (12)."""

    like: float
    reply: float
    repost: float
    click: float
    negative: float
    out_of_network: float  # multiplies an out-of-network entry's score
    author_decay: float  # each further entry of an author: decay^k ...
    author_floor: float  # ... scaled into [floor, 1]

    @classmethod
    def of(cls, settings: Settings) -> ScoreWeights:
        return cls(
            like=settings.heavy_weight_like,
            reply=settings.heavy_weight_reply,
            repost=settings.heavy_weight_repost,
            click=settings.heavy_weight_click,
            negative=settings.heavy_weight_negative,
            out_of_network=settings.heavy_out_of_network_factor,
            author_decay=settings.heavy_author_decay,
            author_floor=settings.heavy_author_floor,
        )

    def per_action(self) -> npt.NDArray[np.float64]:
        """The weights in the order of `ACTIONS`."""
        return np.array([getattr(self, action) for action in ACTIONS], dtype=np.float64)


def final_scores(
    probabilities: npt.NDArray[np.float32],
    out_of_network: Mask,
    author_ids: Ids,
    weights: ScoreWeights,
) -> Scores:
    """Weighted sum, shifted by the negative weights' sum so it is never below zero
    (a factor below one must lower a score, which it would raise if negative), times the
    out-of-network factor, times the author-diversity factor."""
    w = weights.per_action()
    weighted = probabilities.astype(np.float64) @ w - w[w < 0].sum()
    weighted = weighted * np.where(out_of_network, weights.out_of_network, 1.0)
    diversity = author_diversity(weighted, author_ids, weights.author_decay, weights.author_floor)
    scores: Scores = weighted * diversity
    return scores


def author_diversity(scores: Scores, author_ids: Ids, decay: float, floor: float) -> Scores:
    """Per row, (1 - floor) * decay^k + floor, where k counts the author's rows scored
    above it: an author's best entry keeps its score, the next ones lose more and more
    (Twitter's AuthorDiversityScorer, 0.75 * 0.5^k + 0.25 by default)."""
    order = np.argsort(-scores, kind="stable")
    authors = author_ids[order]
    grouped = np.argsort(authors, kind="stable")  # by author, best first within each
    ranked = authors[grouped]
    positions = np.arange(len(ranked))
    starts = np.ones(len(ranked), dtype=np.bool_)
    starts[1:] = ranked[1:] != ranked[:-1]
    k = np.empty(len(ranked), dtype=np.int64)
    k[grouped] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    factor = np.empty(len(scores), dtype=np.float64)
    factor[order] = (1.0 - floor) * decay**k + floor
    return factor
