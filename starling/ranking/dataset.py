"""The impressions dataset: simulated For You impressions with the light features as
serving hydrated them and what each viewer did, split by viewer. Saved as a versioned
artifact (starling/artifacts.py), `<data_dir>/ranking/impressions-<version>.npz`; the
light and heavy rankers train on it and the quality benchmark evaluates on it. The format
is documented in docs/subsystems/ranking.md#dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts
from starling.ranking.model import DIRECTORY

PREFIX = "impressions-"
TRAIN, TEST = 0, 1

Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Impressions:
    viewer_id: Ids  # n
    post_id: Ids  # n: the entry shown
    author_id: Ids  # n: its author
    served_at_ms: Ids  # n: when it was (simulated to be) served
    created_at_ms: Ids  # n: when the entry was posted
    follows_author: npt.NDArray[np.bool_]  # n: the viewer followed the author then
    labels: npt.NDArray[np.int8]  # n x 5, columns in the order of engagement.ACTIONS
    split: npt.NDArray[np.int8]  # n: TRAIN (0) or TEST (1), the same for all of a viewer's
    features: npt.NDArray[np.float32]  # n x L, as hydrated for serving
    feature_names: tuple[str, ...]  # L

    def __len__(self) -> int:
        return len(self.viewer_id)

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Impressions:
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        taken = {k: v if k == "feature_names" else v[rows] for k, v in columns.items()}
        return Impressions(**taken)

    def of_split(self, split: int) -> Impressions:
        return self.take(self.split == split)

    def save(self, path: Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays["feature_names"] = np.array(self.feature_names)
        with path.open("wb") as file:
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path: Path, version: str = "") -> Impressions:
        with np.load(path) as data:
            arrays = {f.name: data[f.name] for f in fields(cls)}
        arrays["feature_names"] = tuple(str(n) for n in arrays["feature_names"])
        return cls(**arrays)


def impressions_artifacts(data_dir: Path) -> Artifacts:
    return Artifacts(data_dir / DIRECTORY, PREFIX)


def newest_impressions(data_dir: Path) -> Impressions | None:
    artifacts = impressions_artifacts(data_dir)
    versions = artifacts.versions()
    return Impressions.load(artifacts.path(versions[-1])) if versions else None
