"""Ranking quality on held-out impressions: NDCG@35 per viewer (gain = the positive
actions a row drew, `engagement.relevance`) and AUC of P(like), for each ranker of a
table. A ranker is one entry: a name and a function from the impressions to a score per
row (higher first), so a new model is one more row. See docs/subsystems/ranking.md#evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from starling.foryou.scoring import HeuristicScorer
from starling.foryou.sources import IN_NETWORK
from starling.mixer import Query
from starling.mixer.candidates import FEATURES, Candidates
from starling.ranking.dataset import Impressions
from starling.ranking.model import LightModel
from starling.world.engagement import ACTIONS, EngagementTruth, relevance

Floats = npt.NDArray[np.float64]
CUTOFF = 35  # a For You page
LIKE = ACTIONS.index("like")


@dataclass(frozen=True)
class Context:
    """What rankers may use besides the impressions: the trained models, and the truth
    (for the oracle only)."""

    truth: EngagementTruth
    light: LightModel


@dataclass(frozen=True)
class Ranker:
    name: str
    scores: Callable[[Impressions, Context], Floats]


def chronological(d: Impressions, c: Context) -> Floats:
    return d.post_id.astype(np.float64)  # snowflakes: newest first


def heuristic(d: Impressions, c: Context) -> Floats:
    """The served heuristic scorer over the saved features, per serving time."""
    scores = np.zeros(len(d))
    for served_at in np.unique(d.served_at_ms).tolist():
        rows = np.flatnonzero(d.served_at_ms == served_at)
        batch = as_candidates(d.take(rows))
        scores[rows] = HeuristicScorer(_stopped(served_at)).score(Query(0), batch)
    return scores


def light(d: Impressions, c: Context) -> Floats:
    return c.light.probabilities(d.features, d.feature_names)


def oracle(d: Impressions, c: Context) -> Floats:
    """The expected relevance under the world's hidden engagement model."""
    truths = c.truth.probabilities(
        d.viewer_id, d.post_id, d.author_id, d.follows_author, d.served_at_ms - d.created_at_ms
    )
    return relevance(truths)


RANKERS: tuple[Ranker, ...] = (
    Ranker("chronological", chronological),
    Ranker("heuristic", heuristic),
    Ranker("light", light),
    Ranker("oracle", oracle),
)


@dataclass(frozen=True)
class Quality:
    ranker: str
    ndcg: float  # mean NDCG@35 over viewers with at least one positive action
    auc: float  # of P(like), over every impression


def evaluate(
    d: Impressions, context: Context, rankers: Sequence[Ranker] = RANKERS
) -> list[Quality]:
    gains = relevance(d.labels)
    return [
        Quality(
            r.name,
            ndcg(d.viewer_id, scores, gains),
            float(roc_auc_score(d.labels[:, LIKE], scores)),
        )
        for r in rankers
        for scores in [r.scores(d, context)]
    ]


def ndcg(viewers: npt.NDArray[np.int64], scores: Floats, gains: Floats, k: int = CUTOFF) -> float:
    """Mean over viewers of DCG@k of the ranking by score / DCG@k of the ideal one;
    viewers whose rows drew nothing are left out (their NDCG is undefined)."""
    ideal = _dcg(viewers, gains, gains, k)
    found = _dcg(viewers, scores, gains, k)
    has = ideal > 0
    return float((found[has] / ideal[has]).mean())


def _dcg(viewers: npt.NDArray[np.int64], scores: Floats, gains: Floats, k: int) -> Floats:
    """DCG@k per viewer (in the order of np.unique(viewers)); ties broken by row order."""
    order = np.lexsort((np.arange(len(scores)), -scores, viewers))
    group, starts = np.unique(viewers[order], return_index=True)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    top = rank < k
    discounted = gains[order][top] / np.log2(rank[top] + 2)
    which = np.searchsorted(group, viewers[order][top])
    return np.asarray(np.bincount(which, weights=discounted, minlength=len(group)), np.float64)


def _stopped(at: int) -> Callable[[], int]:
    return lambda: at


def as_candidates(d: Impressions) -> Candidates:
    """Impressions as a candidate batch: ids, creation times, in-network flag and the
    features by name, as the served scorers read them."""
    batch = Candidates.of(d.post_id)
    features = np.zeros((len(d), len(FEATURES)))
    where = {name: i for i, name in enumerate(d.feature_names)}
    for j, name in enumerate(FEATURES):
        if name in where:
            features[:, j] = d.features[:, where[name]]
    in_network = features[:, FEATURES.index("in_network")] > 0
    return batch.with_columns(
        author_id=d.author_id,
        created_at=d.created_at_ms,
        pipeline=np.where(in_network, IN_NETWORK, IN_NETWORK + 1).astype(np.int16),
        features=features,
    )
