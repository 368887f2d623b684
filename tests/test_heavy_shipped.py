"""The heavy ranker shipped with the package: For You ranks with it (tier `heavy`) on a
data dir where no heavy model was trained, and a trained version replaces it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from starling.artifacts import Newest
from starling.mixer.candidates import FEATURES
from starling.ranking.heavy.fallback import SHIPPED, VERSION, newest_or_shipped, shipped_model
from starling.ranking.heavy.model import HeavyModel, models_in
from starling.ranking.heavy.score import ScoreWeights
from starling.ranking.model import LightModel, save_model
from starling.world.engagement import ACTIONS
from tests.fixtures_api import ApiFactory

PATH = "/api/v1/timelines/for_you"
ROOMY = 100.0  # budgets a loaded test machine cannot overrun


def _light(data_dir: Path) -> None:
    n = len(FEATURES)
    save_model(LightModel("000000000000001", FEATURES, np.zeros(n), np.ones(n), np.ones(n), 0.0),
               data_dir)  # fmt: skip


def test_for_you_ranks_with_the_shipped_heavy_model_when_none_is_trained(
    api_factory: ApiFactory,
) -> None:
    api = api_factory(foryou_budget_scale=ROOMY)
    data_dir = api.runtime.settings.data_dir
    _light(data_dir)
    alice, bob = api.register("alice"), api.register("bob")
    api.follow(alice, bob)
    written = {api.post(bob, f"post {i} #starling")["id"] for i in range(3)}

    page = api.client.get(PATH, headers=alice.auth)

    assert page.status_code == 200, page.text
    assert {s["id"] for s in page.json()} == written
    assert page.headers["X-Starling-Ranking"] == "heavy"
    assert models_in(data_dir).versions() == []  # nothing trained: the shipped model ranked
    first = page.json()[0]["id"]
    why = api.client.get(f"{PATH}/explain/{first}", headers=alice.auth).json()
    assert why["ranking"] == "heavy" and 0.0 < why["light_score"] < 1.0
    heavy = why["heavy"]
    assert heavy["model"] == f"heavy-{VERSION}"
    assert set(heavy["probabilities"]) == {"like", "reply", "repost", "click", "negative"}
    assert all(0.0 < p < 1.0 for p in heavy["probabilities"].values())
    weights = ScoreWeights.of(api.runtime.settings).per_action()
    p = np.array([heavy["probabilities"][a] for a in ACTIONS])
    assert heavy["weighted_sum"] == pytest.approx(float(p @ weights), abs=1e-4)


def test_the_shipped_model_is_small_reads_served_features_and_gives_way_to_a_trained_one(
    tmp_path: Path,
) -> None:
    shipped = shipped_model()
    assert SHIPPED.stat().st_size < 5_000_000
    assert set(shipped.config.feature_names) <= set(FEATURES)
    assert newest_or_shipped(tmp_path).current().version == VERSION  # type: ignore[union-attr]
    clock = [0.0]
    models = Newest(models_in(tmp_path), HeavyModel.load, fallback=shipped_model,
                    clock=lambda: clock[0])  # fmt: skip
    assert models.current() is not None and models.version is None
    trained = replace(shipped, version="000000000000002")
    models_in(tmp_path).save(trained.version, trained.save)
    clock[0] += 60
    assert models.current().version == trained.version  # type: ignore[union-attr]
    assert newest_or_shipped(tmp_path).current().version == trained.version  # type: ignore[union-attr]
