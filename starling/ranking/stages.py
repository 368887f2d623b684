"""What For You's pipeline takes from ranking: the feature hydrators, the low-quality
filter and the light ranker (the heuristic scorer until a model is trained), built from
the in-process state they read. See docs/subsystems/ranking.md#serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starling.artifacts import Newest
from starling.foryou.filters import Clock
from starling.foryou.scoring import HeuristicScorer
from starling.mixer.components import Filter, Hydrator
from starling.mixer.query import Query
from starling.ranking.hydrators import (
    AccountFeatures,
    Affinity,
    CandidateFeatures,
    PostFeatures,
    SimClustersFeatures,
)
from starling.ranking.light import LightRanker
from starling.ranking.model import LightModel
from starling.ranking.quality import LowQuality
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.state import FeatureState
from starling.realgraph import RealGraph


@dataclass(frozen=True)
class RankingInputs:
    """The in-process state the ranking stages read; each may be empty (a test, a fresh
    instance): its features are then zeros, and without a model the heuristic scores."""

    features: FeatureState = field(default_factory=FeatureState)
    realgraph: RealGraph = field(default_factory=RealGraph)
    simclusters: SimClustersReader = field(default_factory=lambda: SimClustersReader(None))
    light: Newest[LightModel] | None = None


class RankingStages:
    def __init__(self, inputs: RankingInputs, clock: Clock) -> None:
        self.hydrators: list[Hydrator[Query]] = [
            PostFeatures(inputs.features, clock),
            AccountFeatures(inputs.features, clock),
            Affinity(inputs.realgraph),
            SimClustersFeatures(inputs.simclusters),
            CandidateFeatures(clock),
        ]
        self.low_quality: Filter[Query] = LowQuality()
        self.scorer = LightRanker(inputs.light, HeuristicScorer(clock))
