"""Ranking quality on held-out impressions: NDCG@35 per viewer (gain = the positive
actions a row drew, `engagement.relevance`) and AUC of P(like), for each ranker of a
table. A ranker is one entry: a name and a function from the impressions to a score per
row (higher first), so a new model is one more row: `light + heavy` is the heavy rung as
serving runs it (the light ranker, then the heavy ranker's final score on its best 500
per viewer). See docs/subsystems/ranking.md#evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from starling.foryou.scoring import HeuristicScorer
from starling.foryou.sources import IN_NETWORK, in_network
from starling.mixer import Query
from starling.mixer.candidates import FEATURES, Candidates, Scores
from starling.mixer.components import Scorer
from starling.ranking.dataset import Impressions
from starling.ranking.heavy.score import ScoreWeights, final_scores
from starling.ranking.light import LightCut
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
    # The heavy ranker's P(action) of every evaluated row (rows x 5, `ACTIONS` order),
    # predicted from the row's own inputs, and the final score's weights.
    heavy: npt.NDArray[np.float32] | None = None
    weights: ScoreWeights | None = None


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


def light_heavy(d: Impressions, c: Context) -> Floats:
    """Per viewer, as the heavy rung serves: the light ranker's scores, then `LightCut`
    hands its best 500 to the heavy ranker's final score (weights, out-of-network
    factor, author diversity)."""
    if c.heavy is None or c.weights is None:
        raise ValueError("light + heavy needs the heavy ranker's predictions and weights")
    light_scores = light(d, c)
    scores = np.zeros(len(d))
    for viewer, rows in _per_viewer(d.viewer_id):
        batch = as_candidates(d.take(rows)).with_columns(score=light_scores[rows])
        heavy = _Predicted(batch.post_id, c.heavy[rows], c.weights)
        scores[rows] = LightCut(heavy).score(Query(viewer), batch)
    return scores


class _Predicted(Scorer[Query]):
    """The heavy ranker's final score over probabilities predicted beforehand for one
    viewer's rows (found by post id: a viewer is shown a post once)."""

    id = "heavy-ranker"

    def __init__(
        self, post_ids: npt.NDArray[np.int64], p: npt.NDArray[np.float32], weights: ScoreWeights
    ) -> None:
        self.order = np.argsort(post_ids, kind="stable")
        self.sorted = post_ids[self.order]
        if (np.diff(self.sorted) == 0).any():
            raise ValueError("a viewer was shown a post twice")
        self.p = p
        self.weights = weights

    def score(self, query: Query, candidates: Candidates) -> Scores:
        rows = self.order[np.searchsorted(self.sorted, candidates.post_id)]
        return final_scores(
            self.p[rows], ~in_network(candidates), candidates.author_id, self.weights
        )


def _per_viewer(viewers: npt.NDArray[np.int64]) -> list[tuple[int, npt.NDArray[np.intp]]]:
    order = np.argsort(viewers, kind="stable")
    found, starts = np.unique(viewers[order], return_index=True)
    return list(zip(found.tolist(), np.split(order, starts[1:]), strict=True))


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
# The heavy ranker's heads weighted by the benchmark's gain (one per positive action, no
# factors): how well the network ranks what NDCG counts, apart from the served weights.
GAIN_WEIGHTS = ScoreWeights(1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0)


def light_heavy_gain(d: Impressions, c: Context) -> Floats:
    return light_heavy(d, replace(c, weights=GAIN_WEIGHTS))


def light_heavy_without_diversity(d: Impressions, c: Context) -> Floats:
    """The served weights without the author-diversity decay: what that policy costs in
    a world whose viewers never tire of an author."""
    if c.weights is None:
        raise ValueError("light + heavy needs the heavy ranker's weights")
    return light_heavy(d, replace(c, weights=replace(c.weights, author_floor=1.0)))


# With the heavy ranker's predictions in the context: the heavy rung too.
WITH_HEAVY: tuple[Ranker, ...] = (
    *RANKERS[:3],
    Ranker("light + heavy", light_heavy),
    Ranker("light + heavy, no author diversity", light_heavy_without_diversity),
    Ranker("light + heavy, gain weights", light_heavy_gain),
    RANKERS[3],
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
