"""Versioned files of the communities (starling/artifacts.py): each run of the job writes
a new one atomically, readers load the newest. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from pathlib import Path

from starling.artifacts import Artifacts, new_version
from starling.simclusters.communities import Communities

__all__ = [
    "artifacts_in",
    "directory_in",
    "load_version",
    "new_version",
    "save_version",
    "versions",
]


def directory_in(data_dir: Path) -> Path:
    return data_dir / "simclusters"


def artifacts_in(directory: Path) -> Artifacts:
    return Artifacts(directory, "communities-")


def save_version(communities: Communities, directory: Path) -> Path:
    return artifacts_in(directory).save(communities.version, communities.save)


def versions(directory: Path) -> list[str]:
    """Saved versions, oldest first."""
    return artifacts_in(directory).versions()


def load_version(directory: Path, version: str) -> Communities:
    return Communities.load(artifacts_in(directory).path(version), version)
