"""The impressions dataset: simulated For You impressions with the light features as
serving hydrated them and what each viewer did, split by viewer. Saved as a versioned
artifact (starling/artifacts.py), `<data_dir>/ranking/impressions-<version>.npz`; the
light and heavy rankers train on it and the quality benchmark evaluates on it. A file
that breaks the format is refused on load (`ImpressionsError`), so nothing trains on it.
The format is documented in docs/subsystems/ranking.md#dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts, new_version
from starling.ranking.model import DIRECTORY
from starling.world.engagement import ACTIONS

PREFIX = "impressions-"
TRAIN, TEST = 0, 1

Ids = npt.NDArray[np.int64]


class ImpressionsError(ValueError):
    """An impressions file that does not follow the format; nothing is trained on it."""


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
        arrays["feature_names"] = np.array(self.feature_names, dtype=np.str_)
        with path.open("wb") as file:
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path: Path, version: str = "") -> Impressions:
        with np.load(path, allow_pickle=False) as saved:
            missing = {f.name for f in fields(cls)} - set(saved.files)
            if missing:
                raise ImpressionsError(f"{path.name}: missing arrays {sorted(missing)}")
            found = cls(
                viewer_id=saved["viewer_id"].astype(np.int64),
                post_id=saved["post_id"].astype(np.int64),
                author_id=saved["author_id"].astype(np.int64),
                served_at_ms=saved["served_at_ms"].astype(np.int64),
                created_at_ms=saved["created_at_ms"].astype(np.int64),
                follows_author=saved["follows_author"].astype(np.bool_),
                labels=saved["labels"].astype(np.int8),
                split=saved["split"].astype(np.int8),
                features=saved["features"].astype(np.float32),
                feature_names=tuple(str(name) for name in saved["feature_names"].tolist()),
            )
        found.check(path.name)
        return found

    def check(self, name: str) -> None:
        rows = len(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "feature_names" and len(value) != rows:
                raise ImpressionsError(f"{name}: {f.name} has {len(value)} rows, not {rows}")
        if self.labels.ndim != 2 or self.labels.shape[1] != len(ACTIONS):
            raise ImpressionsError(f"{name}: labels must be rows x {len(ACTIONS)} ({ACTIONS})")
        if not np.isin(self.labels, (0, 1)).all() or not np.isin(self.split, (TRAIN, TEST)).all():
            raise ImpressionsError(f"{name}: labels must be 0/1 and split 0 (train) or 1 (test)")
        if self.features.ndim != 2 or self.features.shape[1] != len(self.feature_names):
            raise ImpressionsError(
                f"{name}: features must have one column per name ({len(self.feature_names)})"
            )
        if not np.isfinite(self.features).all():
            raise ImpressionsError(f"{name}: features must be finite")
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ImpressionsError(f"{name}: feature names must be unique")


def impressions_artifacts(data_dir: Path) -> Artifacts:
    return Artifacts(data_dir / DIRECTORY, PREFIX)


def save_impressions(impressions: Impressions, data_dir: Path) -> Path:
    """A new version of the impressions artifact."""
    return impressions_artifacts(data_dir).save(new_version(), impressions.save)


def newest_impressions(data_dir: Path) -> Impressions | None:
    artifacts = impressions_artifacts(data_dir)
    versions = artifacts.versions()
    return Impressions.load(artifacts.path(versions[-1])) if versions else None


def load_newest(data_dir: Path) -> tuple[str, Impressions]:
    """The newest impressions version and its rows; a clear error when there is none."""
    artifacts = impressions_artifacts(data_dir)
    versions = artifacts.versions()
    if not versions:
        raise ImpressionsError(f"no impressions in {artifacts.directory} (impressions-*.npz)")
    return versions[-1], Impressions.load(artifacts.path(versions[-1]))
