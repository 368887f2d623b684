"""Simulated impressions: for sampled viewers of a generated world, the candidates the
For You pipeline would rank (its candidate-only variant: the same sources, hydrators and
filters, without the served record), hydrated exactly as serving hydrates them, each
labelled by sampling the world's hidden engagement model; viewers are split into train
and held-out test. The world's clock stops at its `now_ms`, so every impression is served
then, from the pipeline's four sources over state rebuilt from the store as of that time
(the real graph, the feature state, SimClusters' post vectors, TwHIN's index of posts).
The SimClusters communities and TwHIN embeddings are the newest (each job is run first
when it never ran).
See docs/subsystems/ranking.md#dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from starling.artifacts import Newest
from starling.foryou.interest_sources import interest_sources
from starling.foryou.realgraph_source import RealGraphIndex, RealGraphSource
from starling.foryou.timeline import ForYouTimeline
from starling.mixer import Page, Query
from starling.mixer.candidates import FEATURES, among
from starling.ranking.dataset import TEST, TRAIN, Impressions
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.stages import RankingInputs
from starling.ranking.state import FeatureState
from starling.ranking.twhin import TwhinReader
from starling.realgraph import RealGraph
from starling.runtime import Runtime
from starling.simclusters.index import SimClustersIndex, open_index
from starling.simclusters.train import TrainParams, train
from starling.simclusters.versions import directory_in
from starling.twhin.embeddings import Embeddings
from starling.twhin.embeddings import newest as newest_embeddings
from starling.twhin.train import TrainParams as EmbeddingParams
from starling.twhin.train import train as train_embeddings
from starling.workers.base import Worker
from starling.workers.features import FeatureWorker
from starling.workers.realgraph import RealGraphWorker
from starling.workers.simclusters import SimClustersWorker
from starling.workers.twhin import TwhinWorker
from starling.world.engagement import EngagementTruth, sample
from starling.world.truth import load_world_meta

SOURCE_TIMEOUT_S = 600.0  # every viewer's impressions come from every source


@dataclass(frozen=True)
class ImpressionParams:
    viewers: int = 1_000
    test_share: float = 0.2  # of the viewers, held out
    seed: int = 0


def build_impressions(
    runtime: Runtime, params: ImpressionParams, *, progress: bool = True
) -> Impressions:
    """The dataset for the runtime's world (its data dir must hold a generated world)."""
    data_dir = runtime.settings.data_dir
    meta = load_world_meta(data_dir)
    if meta is None:
        raise ValueError(f"no generated world in {data_dir}: run `starling world generate`")
    served_at = int(meta["now_ms"])
    truth = EngagementTruth.load(data_dir)
    timeline = timeline_as_of(
        runtime,
        served_at,
        communities(runtime, progress=progress),
        embeddings(runtime, progress=progress),
    )
    rng = np.random.default_rng(params.seed)
    viewers = rng.choice(truth.account_ids, min(params.viewers, truth.account_ids.size), False)
    held_out = rng.random(viewers.size) < params.test_share
    parts: list[Impressions] = []
    try:
        for viewer, test in tqdm(
            zip(viewers.tolist(), held_out.tolist(), strict=True),
            total=viewers.size,
            desc="impressions",
            unit=" viewers",
            disable=not progress,
        ):
            mixed = timeline.candidates(Query(viewer, Page()))
            found, n = mixed.candidates, len(mixed.candidates)
            if not n:
                continue
            follows = among(found.author_id, mixed.query.following)
            viewer_ids = np.full(n, viewer, dtype=np.int64)
            age_ms = served_at - found.created_at
            truths = truth.probabilities(
                viewer_ids, found.post_id, found.author_id, follows, age_ms
            )
            parts.append(
                Impressions(
                    viewer_id=viewer_ids,
                    post_id=found.post_id,
                    author_id=found.author_id,
                    served_at_ms=np.full(n, served_at, dtype=np.int64),
                    created_at_ms=found.created_at,
                    follows_author=follows,
                    labels=sample(rng, truths),
                    split=np.full(n, TEST if test else TRAIN, dtype=np.int8),
                    features=found.features.astype(np.float32),
                    feature_names=FEATURES,
                )
            )
    finally:
        timeline.close()
    return concat(parts)


def timeline_as_of(
    runtime: Runtime,
    served_at: int,
    communities: SimClustersIndex,
    embeddings: Newest[Embeddings],
) -> ForYouTimeline:
    """The runtime's For You with its clock stopped at `served_at`, its four sources and
    its features over in-memory state rebuilt from the store as of then, as each worker
    rebuilds its own on start: the real graph, the feature state, SimClusters' post
    vectors and TwHIN's index of posts."""
    clock = lambda: served_at  # noqa: E731 - a stopped clock
    graph, state = RealGraph(), FeatureState()
    RealGraphWorker(runtime.log, runtime.store, graph, clock=clock).rebuild()
    FeatureWorker(runtime.log, runtime.store, state, clock=clock).rebuild()
    interests: dict[str, Worker] = {
        SimClustersWorker.name: SimClustersWorker(
            runtime.log, communities, runtime.store, clock=clock
        ),
        TwhinWorker.name: TwhinWorker(runtime.log, runtime.store, embeddings, clock=clock),
    }
    for worker in interests.values():
        worker.tick()
    simclusters = interests[SimClustersWorker.name]
    assert isinstance(simclusters, SimClustersWorker)
    timeline = ForYouTimeline(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        out_of_network=[RealGraphSource(RealGraphIndex(graph)), *interest_sources(interests)],
        clock=clock,
        ranking=RankingInputs(
            features=state,
            realgraph=graph,
            simclusters=SimClustersReader(communities, simclusters.posts, graph),
            twhin=TwhinReader(embeddings, graph),
        ),
    )
    for source in timeline.candidate_runner.pipeline.sources:
        source.timeout_s = SOURCE_TIMEOUT_S  # a deadline is a serving concern, not the data's
    return timeline


def communities(runtime: Runtime, *, progress: bool) -> SimClustersIndex:
    """The newest SimClusters communities, computed first when the job never ran."""
    index = open_index(runtime.settings.data_dir)
    if index.current() is None:
        train(
            runtime.store, directory_in(runtime.settings.data_dir), TrainParams(), progress=progress
        )
        index = open_index(runtime.settings.data_dir)
    return index


def embeddings(runtime: Runtime, *, progress: bool) -> Newest[Embeddings]:
    """The newest TwHIN account embeddings, computed first when the job never ran."""
    data_dir = runtime.settings.data_dir
    if newest_embeddings(data_dir).current() is None:
        train_embeddings(runtime.store, data_dir, EmbeddingParams(), progress=progress)
    return newest_embeddings(data_dir)


def concat(parts: list[Impressions]) -> Impressions:
    if not parts:
        raise ValueError("no viewer had a candidate: is the world generated and recent?")
    arrays = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in Impressions.__dataclass_fields__
        if name != "feature_names"
    }
    return Impressions(**arrays, feature_names=parts[0].feature_names)
