"""Training the light ranker: logistic regression (scikit-learn) on the train split of
the impressions, label = any positive engagement (like, reply or repost, the actions the
quality benchmark's relevance counts). The inputs are squashed and standardised as the
served model does (starling/ranking/model.py). See docs/subsystems/ranking.md#training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from starling.artifacts import new_version
from starling.mixer.candidates import FEATURES
from starling.ranking.dataset import TRAIN, Impressions, newest_impressions, save_impressions
from starling.ranking.impressions import ImpressionParams, build_impressions
from starling.ranking.model import MIN_SCALE, LightModel, save_model, squash
from starling.runtime import Runtime
from starling.world.engagement import ACTIONS, POSITIVE

POSITIVE_COLUMNS = [ACTIONS.index(a) for a in POSITIVE]


@dataclass(frozen=True)
class LightParams:
    c: float = 1.0  # inverse L2 strength
    max_iter: int = 1_000


def positive(labels: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    """The light ranker's label: any positive engagement."""
    return np.asarray(labels[:, POSITIVE_COLUMNS].any(axis=1), dtype=np.bool_)


def fit(impressions: Impressions, params: LightParams | None = None) -> LightModel:
    """A model from the train split of the impressions."""
    params = params or LightParams()
    train = impressions.of_split(TRAIN)
    x = squash(train.features)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < MIN_SCALE] = 1.0  # a constant feature: standardised to zeros
    y = positive(train.labels)
    if y.all() or not y.any():
        raise ValueError("the train split needs impressions with and without engagement")
    regression = LogisticRegression(C=params.c, max_iter=params.max_iter)
    regression.fit((x - mean) / scale, y)
    return LightModel(
        version=new_version(),
        feature_names=impressions.feature_names,
        mean=mean,
        scale=scale,
        coef=regression.coef_[0].astype(np.float64),
        intercept=float(regression.intercept_[0]),
    )


def impressions_for(
    runtime: Runtime, params: ImpressionParams, *, rebuild: bool, progress: bool
) -> Impressions:
    """The newest saved impressions of the current feature table, built and saved first
    when there are none (or `rebuild`)."""
    data_dir = runtime.settings.data_dir
    found = None if rebuild else newest_impressions(data_dir)
    if found is None or found.feature_names != FEATURES:
        found = build_impressions(runtime, params, progress=progress)
        save_impressions(found, data_dir)
    return found


def train_light(
    runtime: Runtime,
    params: ImpressionParams,
    *,
    rebuild: bool = False,
    progress: bool = True,
) -> tuple[LightModel, Path]:
    """Builds the impressions if needed, fits the light ranker, saves a new version."""
    impressions = impressions_for(runtime, params, rebuild=rebuild, progress=progress)
    model = fit(impressions)
    return model, save_model(model, runtime.settings.data_dir)
