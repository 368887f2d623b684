"""The light ranker on a tiny world: simulated impressions hydrated as serving does, a
model that beats chronological order on held-out viewers, versions that reload, the
heuristic fallback, and the explanation's top features."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from starling.artifacts import Newest
from starling.config import Settings, scaled_thresholds
from starling.foryou.scoring import HeuristicScorer
from starling.mixer import Query
from starling.mixer.candidates import FEATURES, Candidates, Scores
from starling.mixer.components import Scorer
from starling.ranking.dataset import TEST, TRAIN, Impressions, newest_impressions
from starling.ranking.evaluate import RANKERS, Context, as_candidates, evaluate, light_heavy
from starling.ranking.heavy.score import ScoreWeights, final_scores
from starling.ranking.impressions import ImpressionParams
from starling.ranking.light import LightCut, LightRanker
from starling.ranking.model import LightModel, light_artifacts, newest_model, save_model
from starling.ranking.train import train_light
from starling.runtime import Runtime, open_runtime
from starling.store.sqlite import SqliteStore
from starling.world import generate
from starling.world.engagement import ACTIONS, EngagementTruth
from starling.world.truth import load_world_meta

NOW_MS = 1_760_000_000_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    data_dir: Path = tmp_path_factory.mktemp("world")
    store = SqliteStore(data_dir / "starling.sqlite3")
    try:
        generate(store, data_dir, "tiny", 2, progress=False, now_ms=NOW_MS)
    finally:
        store.close()
    meta = load_world_meta(data_dir)
    assert meta is not None
    thresholds = scaled_thresholds(int(meta["celebrity_threshold"]))
    runtime = open_runtime(Settings(data_dir=data_dir, **thresholds), workers="none")  # type: ignore[arg-type]
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def trained(world: Runtime) -> tuple[LightModel, Impressions]:
    model, _ = train_light(world, ImpressionParams(viewers=300, seed=1), progress=False)
    impressions = newest_impressions(world.settings.data_dir)
    assert impressions is not None
    return model, impressions


def test_impressions_are_split_by_viewer_and_hydrated_as_served(
    trained: tuple[LightModel, Impressions],
) -> None:
    _, d = trained
    assert d.feature_names == FEATURES
    assert d.features.shape == (len(d), len(FEATURES)) and d.labels.shape == (len(d), len(ACTIONS))
    train, test = (
        set(d.of_split(TRAIN).viewer_id.tolist()),
        set(d.of_split(TEST).viewer_id.tolist()),
    )
    assert train and test and not train & test
    assert (d.served_at_ms == NOW_MS).all()
    in_network = d.features[:, FEATURES.index("in_network")] > 0
    assert in_network.any() and not in_network.all()  # both kinds of source
    assert np.array_equal(in_network, d.follows_author)  # a tiny world has no reposts
    assert d.labels[:, ACTIONS.index("like")].mean() > 0.02  # something to learn from


def test_the_light_ranker_beats_chronological_on_held_out_viewers(
    world: Runtime, trained: tuple[LightModel, Impressions]
) -> None:
    model, d = trained
    quality = {
        q.ranker: q
        for q in evaluate(
            d.of_split(TEST), Context(EngagementTruth.load(world.settings.data_dir), model)
        )
    }
    assert [r.name for r in RANKERS] == ["chronological", "heuristic", "light", "oracle"]
    assert quality["light"].auc > quality["chronological"].auc + 0.08
    assert quality["light"].ndcg > quality["chronological"].ndcg + 0.05
    assert quality["oracle"].ndcg > quality["light"].ndcg  # the truth stays out of reach


def test_versions_reload_and_the_heuristic_scores_until_there_is_one(
    tmp_path: Path, trained: tuple[LightModel, Impressions]
) -> None:
    model, d = trained
    clock = [0.0]
    models = Newest(light_artifacts(tmp_path), LightModel.load, clock=lambda: clock[0])
    heuristic = HeuristicScorer(lambda: NOW_MS)
    ranker = LightRanker(models, fallback=heuristic)
    batch = as_candidates(d.of_split(TEST).take(np.arange(40)))

    assert np.array_equal(ranker.score(Query(1), batch), heuristic.score(Query(1), batch))
    assert ranker.explain(batch)[0] == {"model": "heuristic-score", "top_features": []}
    save_model(model, tmp_path)
    clock[0] += 60
    assert np.allclose(ranker.score(Query(1), batch), model.probabilities(batch.features, FEATURES))
    newer = replace(model, version=str(int(model.version) + 1), coef=-model.coef)
    save_model(newer, tmp_path)
    clock[0] += 60
    assert ranker.model() is not None and ranker.model().version == newer.version  # type: ignore[union-attr]
    assert newest_model(tmp_path).current().version == newer.version  # type: ignore[union-attr]
    explained = ranker.explain(batch)[0]
    assert explained["model"] == f"light-{newer.version}"
    shares = [abs(f["contribution"]) for f in explained["top_features"]]
    assert len(shares) == 5 and shares == sorted(shares, reverse=True)


class Counted(Scorer[Query]):
    """A heavier scorer that scores by post id and records the batches it saw."""

    id = "counted"

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def score(self, query: Query, candidates: Candidates) -> Scores:
        self.batches.append(candidates.post_id.tolist())
        return candidates.post_id.astype(np.float64)


def test_the_cut_hands_only_the_light_rankers_best_to_the_heavier_scorer() -> None:
    batch = Candidates.of(np.arange(1, 8, dtype=np.int64))
    batch = batch.with_columns(score=np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.8]))
    heavier = Counted()

    scores = LightCut(heavier, keep=3).score(Query(1), batch)

    assert heavier.batches == [[2, 7, 4]]  # one call, the light ranker's best three
    order = np.argsort(-scores, kind="stable") + 1
    assert order.tolist() == [7, 4, 2, 3, 6, 5, 1]  # by the heavier score, then by light


def test_the_heavy_rung_is_evaluated_per_viewer_as_served() -> None:
    rng = np.random.default_rng(0)
    n = 1_200  # two viewers of 600 rows: the heavy ranker sees each one's best 500
    viewer = np.repeat([7, 3], n // 2).astype(np.int64)
    d = Impressions(
        viewer_id=viewer,
        post_id=np.tile(np.arange(1, n // 2 + 1), 2).astype(np.int64),
        author_id=rng.integers(1, 50, n).astype(np.int64),
        served_at_ms=np.full(n, NOW_MS, dtype=np.int64),
        created_at_ms=np.full(n, NOW_MS - 1, dtype=np.int64),
        follows_author=np.zeros(n, dtype=np.bool_),
        labels=np.zeros((n, len(ACTIONS)), dtype=np.int8),
        split=np.full(n, TEST, dtype=np.int8),
        features=np.stack([rng.random(n), rng.integers(0, 2, n)], axis=1).astype(np.float32),
        feature_names=("x", "in_network"),
    )
    light = LightModel("1", ("x",), np.zeros(1), np.ones(1), np.ones(1), 0.0)
    p = rng.random((n, len(ACTIONS))).astype(np.float32)
    weights = ScoreWeights.of(Settings())
    context = Context(None, light, heavy=p, weights=weights)  # type: ignore[arg-type]

    scores = light_heavy(d, context)

    for v in (7, 3):
        rows = np.flatnonzero(viewer == v)
        best = rows[np.argsort(-d.features[rows, 0], kind="stable")[:500]]
        rest = np.setdiff1d(rows, best)
        assert scores[rest].max() < scores[best].min()
        assert np.array_equal(np.argsort(-scores[rest]), np.argsort(-d.features[rest, 0]))
        out = d.features[best, 1] == 0
        expected = final_scores(p[best], out, d.author_id[best], weights)
        assert np.allclose(scores[best], expected)
