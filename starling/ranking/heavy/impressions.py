"""The training data: impressions (a post served to a viewer, with what the viewer then
did), saved as a versioned artifact `<data_dir>/ranking/impressions-<version>.npz`.

Format (one row per impression, every array as long as the others):
`viewer_id`, `post_id`, `author_id`, `served_at_ms` (int64); `labels` (rows x 5 int8,
0/1, columns in the order of `starling.world.engagement.ACTIONS`); `split` (int8, 0 train,
1 test); `features` (rows x F float32) and `feature_names` (F strings) naming its columns.
See docs/subsystems/heavy_ranker.md#training-data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts
from starling.world.engagement import ACTIONS

TRAIN, TEST = 0, 1

Ids = npt.NDArray[np.int64]


class ImpressionsError(ValueError):
    """An impressions file that does not follow the format; nothing is trained on it."""


def directory_in(data_dir: Path) -> Path:
    return data_dir / "ranking"


def impressions_in(data_dir: Path) -> Artifacts:
    return Artifacts(directory_in(data_dir), "impressions-")


@dataclass(frozen=True)
class Impressions:
    viewer_id: Ids
    post_id: Ids
    author_id: Ids
    served_at_ms: Ids
    labels: npt.NDArray[np.int8]
    split: npt.NDArray[np.int8]
    features: npt.NDArray[np.float32]
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.viewer_id)

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Impressions:
        return Impressions(
            **{
                f.name: getattr(self, f.name)[rows]
                for f in fields(self)
                if f.name != "feature_names"
            },
            feature_names=self.feature_names,
        )

    def save(self, path: Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays["feature_names"] = np.array(self.feature_names, dtype=np.str_)
        with path.open("wb") as out:
            np.savez(out, **arrays)

    @classmethod
    def load(cls, path: Path) -> Impressions:
        with np.load(path, allow_pickle=False) as saved:
            missing = {f.name for f in fields(cls)} - set(saved.files)
            if missing:
                raise ImpressionsError(f"{path.name}: missing arrays {sorted(missing)}")
            found = cls(
                viewer_id=saved["viewer_id"].astype(np.int64),
                post_id=saved["post_id"].astype(np.int64),
                author_id=saved["author_id"].astype(np.int64),
                served_at_ms=saved["served_at_ms"].astype(np.int64),
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


def load_newest(data_dir: Path) -> tuple[str, Impressions]:
    """The newest impressions version and its rows; a clear error when there is none."""
    artifacts = impressions_in(data_dir)
    versions = artifacts.versions()
    if not versions:
        raise ImpressionsError(f"no impressions in {artifacts.directory} (impressions-*.npz)")
    return versions[-1], Impressions.load(artifacts.path(versions[-1]))
