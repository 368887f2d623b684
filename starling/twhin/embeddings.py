"""One trained version of the account embeddings: ids sorted, one L2-normalized float32
row each; saved and reloaded through starling/artifacts.py under
`<data_dir>/embeddings/`. See docs/subsystems/twhin.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts, Newest

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Embeddings:
    version: str
    account_ids: Ids  # ascending
    vectors: Vectors  # [accounts, dims], unit rows

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def rows(self, account_ids: Ids) -> Ids:
        """Each account's row, -1 for an account without an embedding."""
        if not self.account_ids.size:
            return np.full(len(account_ids), -1, np.int64)
        at = np.minimum(np.searchsorted(self.account_ids, account_ids), self.account_ids.size - 1)
        found: Ids = np.where(self.account_ids[at] == account_ids, at, -1)
        return found

    def vector(self, account_id: int) -> Vectors | None:
        row = int(self.rows(np.array([account_id], np.int64))[0])
        return None if row < 0 else self.vectors[row]

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            np.savez(file, account_ids=self.account_ids, vectors=self.vectors)

    @classmethod
    def load(cls, path: Path, version: str) -> Embeddings:
        with np.load(path) as data:
            arrays: dict[str, Any] = {name: data[name] for name in data.files}
        return cls(version=version, **arrays)


def artifacts_in(data_dir: Path) -> Artifacts:
    return Artifacts(data_dir / "embeddings", "twhin-")


def newest(data_dir: Path, *, check_every_s: float = 10.0) -> Newest[Embeddings]:
    """The newest saved version under this data dir, reloaded when the job saves another."""
    return Newest(artifacts_in(data_dir), Embeddings.load, check_every_s=check_every_s)
