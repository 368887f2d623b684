"""For You's heavy-ranker scorer: the newest trained model over the candidates that
survive the light ranker, in one numpy forward pass for the whole batch, then the final
score (starling/ranking/heavy/score.py). Never imports PyTorch.
See docs/subsystems/heavy_ranker.md#serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.artifacts import Newest
from starling.foryou.sources import in_network
from starling.mixer.candidates import FEATURES, Candidates, Scores
from starling.mixer.components import Scorer
from starling.mixer.query import Query
from starling.ranking.heavy.history import Histories
from starling.ranking.heavy.inputs import candidates_of, history_of
from starling.ranking.heavy.model import HeavyModel, models_in
from starling.ranking.heavy.posts import shown_in
from starling.ranking.heavy.score import ScoreWeights, final_scores
from starling.ranking.heavy.tokens import TokenRows, post_tokens
from starling.world.engagement import ACTIONS


@dataclass(frozen=True)
class Prediction:
    """One batch's per-head probabilities (rows x 5, columns in `ACTIONS`) and final
    scores, from model `version`."""

    version: str
    probabilities: npt.NDArray[np.float32]
    scores: Scores

    def heads(self, row: int) -> dict[str, float]:
        """A row's probabilities by action name, for explain."""
        return dict(zip(ACTIONS, self.probabilities[row].tolist(), strict=True))


def newest_model(data_dir: Path) -> Newest[HeavyModel]:
    return Newest(models_in(data_dir), HeavyModel.load)


class HeavyRanker(Scorer[Query]):
    """Until a model has been trained, the earlier scorer's scores pass through."""

    id = "heavy-ranker"

    def __init__(
        self,
        models: Newest[HeavyModel],
        histories: Histories,
        weights: ScoreWeights,
    ) -> None:
        self.models = models
        self.histories = histories
        self.weights = weights
        self._tokens: tuple[tuple[int, int], TokenRows] | None = None  # per (vocab, length)

    def score(self, query: Query, candidates: Candidates) -> Scores:
        prediction = self.predict(query, candidates)
        return candidates.score if prediction is None else prediction.scores

    def explain(self, query: Query, candidates: Candidates) -> list[dict[str, Any]]:
        """Per row: the model, its probability of each action and their weighted sum
        (before the out-of-network and author-diversity factors, which depend on the
        rest of the batch). Candidate isolation makes a row's probabilities the same in
        any batch, so a served page is scored again on its own; {} before a model."""
        prediction = self.predict(query, candidates)
        if prediction is None:
            return [{} for _ in range(len(candidates))]
        weighted = prediction.probabilities.astype(np.float64) @ self.weights.per_action()
        return [
            {
                "heavy": {
                    "model": f"heavy-{prediction.version}",
                    "probabilities": {a: round(p, 6) for a, p in prediction.heads(row).items()},
                    "weighted_sum": round(float(weighted[row]), 6),
                }
            }
            for row in range(len(candidates))
        ]

    def predict(self, query: Query, candidates: Candidates) -> Prediction | None:
        """The model's probabilities and the final scores of every row; None before
        the first model. Reads the viewer's history (shared with the request's content
        features) from its source and the history's posts in one store read."""
        model = self.models.current()
        if model is None:
            return None
        c = model.config
        features = _features(model, candidates)
        viewer = self.histories.of(query.viewer_id, c.history)
        history = history_of(
            viewer.engagements, viewer.recent, viewer.posts, c.vocab, c.text_length,
            c.author_buckets,
        )  # fmt: skip
        shown = shown_in(candidates)
        authors = np.array(
            [post.author_id if post is not None else 0 for post in shown], dtype=np.int64
        )
        tokens = self._token_rows(c.vocab, c.text_length).of(shown)
        inputs = candidates_of(tokens, authors, features, c.author_buckets)
        probabilities = model.predict(history, inputs)[0]
        scores = final_scores(probabilities, ~in_network(candidates), authors, self.weights)
        return Prediction(model.version, probabilities, scores)

    def _token_rows(self, vocab: int, length: int) -> TokenRows:
        """The candidates' tokens, kept per post for the model's vocabulary and length."""
        kept = self._tokens
        if kept is None or kept[0] != (vocab, length):
            rows = TokenRows(
                lambda post: post_tokens(post.text, post.hashtags, vocab, length), length
            )
            kept = self._tokens = ((vocab, length), rows)
        return kept[1]


def _features(model: HeavyModel, candidates: Candidates) -> npt.NDArray[np.float32]:
    """The batch's feature columns the model was trained on, in its order."""
    missing = [name for name in model.config.feature_names if name not in FEATURES]
    if missing:
        raise ValueError(
            f"heavy ranker {model.version} reads features no hydrator fills: {missing}"
        )
    columns = [FEATURES.index(name) for name in model.config.feature_names]
    return candidates.features[:, columns].astype(np.float32)
