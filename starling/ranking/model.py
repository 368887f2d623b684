"""The light ranker's model: logistic regression over the light features, served with
numpy. Every feature goes through sign(x) * log1p(|x|) (counts and rates span orders of
magnitude), then the training set's standardisation; the score is
sigmoid(z . coef + intercept), P(positive engagement). Saved as a versioned artifact
(starling/artifacts.py) under `<data_dir>/ranking/light-<version>.npz`.
See docs/subsystems/ranking.md#light-ranker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts, Newest

Floats = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64] | npt.NDArray[np.float32]

DIRECTORY = "ranking"
PREFIX = "light-"


def light_artifacts(data_dir: Path) -> Artifacts:
    return Artifacts(data_dir / DIRECTORY, PREFIX)


MIN_SCALE = 1e-6  # a spread below this: the feature is constant over the train split


def squash(features: Matrix) -> Floats:
    """The transform before standardisation: sign(x) * log1p(|x|)."""
    x = np.asarray(features, dtype=np.float64)
    squashed: Floats = np.sign(x) * np.log1p(np.abs(x))
    return squashed


@dataclass(frozen=True)
class LightModel:
    version: str
    feature_names: tuple[str, ...]
    mean: Floats  # of the squashed training features
    scale: Floats  # their standard deviation (1 where constant)
    coef: Floats  # per standardised feature
    intercept: float

    def standardised(self, features: Matrix, names: tuple[str, ...]) -> Floats:
        """The model's inputs from a matrix whose columns are `names`: each model feature
        by name; one the matrix lacks counts as its mean (contributes nothing)."""
        where = {name: i for i, name in enumerate(names)}
        z = np.zeros((features.shape[0], len(self.feature_names)))
        for j, name in enumerate(self.feature_names):
            if name in where:
                column = squash(features[:, where[name]])
                z[:, j] = (column - self.mean[j]) / self.scale[j]
        return z

    def contributions(self, features: Matrix, names: tuple[str, ...]) -> Floats:
        """Each feature's share of the logit, per row."""
        contributions: Floats = self.standardised(features, names) * self.coef
        return contributions

    def probabilities(self, features: Matrix, names: tuple[str, ...]) -> Floats:
        logit = self.standardised(features, names) @ self.coef + self.intercept
        probabilities: Floats = 1.0 / (1.0 + np.exp(-logit))
        return probabilities

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez(
                file,
                feature_names=np.array(self.feature_names),
                mean=self.mean,
                scale=self.scale,
                coef=self.coef,
                intercept=np.float64(self.intercept),
            )

    @classmethod
    def load(cls, path: Path, version: str) -> LightModel:
        with np.load(path) as data:
            return cls(
                version=version,
                feature_names=tuple(str(n) for n in data["feature_names"]),
                mean=data["mean"],
                scale=data["scale"],
                coef=data["coef"],
                intercept=float(data["intercept"]),
            )


def save_model(model: LightModel, data_dir: Path) -> Path:
    return light_artifacts(data_dir).save(model.version, model.save)


def newest_model(data_dir: Path) -> Newest[LightModel]:
    """What a server reads: the newest trained version, reloaded when a newer appears."""
    return Newest(light_artifacts(data_dir), LightModel.load)
