"""What For You's pipeline takes from ranking: the feature hydrators (the few the filters
read, and the rest after the filters), the low-quality filter and the scorers of its
ranking rungs (the light ranker, the heuristic scorer until a model is trained, and the
heavy ranker behind the light ranker's 500 cut), built from the in-process state they
read. See docs/subsystems/ranking.md#serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starling.artifacts import Newest
from starling.foryou.filters import Clock
from starling.foryou.scoring import HeuristicScorer
from starling.mixer.candidates import Candidates
from starling.mixer.components import Filter, Hydrator, Scorer
from starling.mixer.query import Query
from starling.ranking.content import ContentReader
from starling.ranking.heavy.history import Histories, RealGraphHistory
from starling.ranking.heavy.model import HeavyModel
from starling.ranking.heavy.score import ScoreWeights
from starling.ranking.heavy.scorer import HeavyRanker
from starling.ranking.hydrators import (
    AccountFeatures,
    Affinity,
    CandidateFeatures,
    ContentFeatures,
    PostFeatures,
    SimClustersFeatures,
    TwhinFeatures,
)
from starling.ranking.light import LightCut, LightRanker
from starling.ranking.model import LightModel
from starling.ranking.quality import LowQuality
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.state import FeatureState
from starling.ranking.twhin import TwhinReader
from starling.realgraph import RealGraph
from starling.store.base import Store


@dataclass(frozen=True)
class RankingInputs:
    """The in-process state the ranking stages read; each may be empty (a test, a fresh
    instance): its features are then zeros, and without a model the heuristic scores."""

    features: FeatureState = field(default_factory=FeatureState)
    realgraph: RealGraph = field(default_factory=RealGraph)
    simclusters: SimClustersReader = field(default_factory=lambda: SimClustersReader(None))
    twhin: TwhinReader = field(default_factory=lambda: TwhinReader(None))
    light: Newest[LightModel] | None = None
    heavy: Newest[HeavyModel] | None = None
    weights: ScoreWeights | None = None  # the heavy ranker's final score (the settings)


class RankingStages:
    def __init__(self, inputs: RankingInputs, clock: Clock, store: Store) -> None:
        history = Histories(RealGraphHistory(inputs.realgraph), store)
        # The filters read the authors' reputation (low quality); every other feature is
        # hydrated after them, for the rows that survive (a fifth fewer on the bench world).
        self.hydrators: list[Hydrator[Query]] = [AccountFeatures(inputs.features, clock)]
        self.post_filter_hydrators: list[Hydrator[Query]] = [
            PostFeatures(inputs.features, clock),
            Affinity(inputs.realgraph),
            SimClustersFeatures(inputs.simclusters),
            TwhinFeatures(inputs.twhin),
            ContentFeatures(ContentReader(history)),
            CandidateFeatures(clock),
        ]
        self.low_quality: Filter[Query] = LowQuality()
        self.heuristic = HeuristicScorer(clock)
        self.light = LightRanker(inputs.light, self.heuristic)
        self.heavy: list[Scorer[Query]] = []  # the heavy rung after the light ranker
        self.heavy_ranker: HeavyRanker | None = None
        if inputs.heavy is not None and inputs.weights is not None:
            heavy = HeavyRanker(inputs.heavy, history, inputs.weights)
            self.heavy, self.heavy_ranker = [self.light, LightCut(heavy)], heavy
        self.inputs = inputs

    def explain_heavy(self, query: Query, page: Candidates) -> list[dict[str, Any]]:
        """Per row, the heavy ranker's explanation ({} without the ranker)."""
        if self.heavy_ranker is None:
            return [{} for _ in range(len(page))]
        return self.heavy_ranker.explain(query, page)

    def light_ready(self) -> bool:
        """A light model is trained (else the heuristic scores: its own rung)."""
        return self.light.model() is not None

    def heavy_ready(self) -> bool:
        heavy = self.inputs.heavy
        return self.light_ready() and heavy is not None and heavy.current() is not None
