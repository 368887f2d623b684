"""Versioned files of the communities: each run of the job writes a new one atomically,
readers load the newest. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from starling.simclusters.communities import Communities

PREFIX = "communities-"
SUFFIX = ".npz"
KEEP = 3  # versions kept on disk: the newest and two to fall back on by hand


def directory_in(data_dir: Path) -> Path:
    return data_dir / "simclusters"


def new_version() -> str:
    """Sorts in time order as a string: milliseconds, zero-padded."""
    return f"{time.time_ns() // 1_000_000:015d}"


def save_version(communities: Communities, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PREFIX}{communities.version}{SUFFIX}"
    partial = directory / f".{path.name}.partial"
    communities.save(partial)
    os.replace(partial, path)  # readers never see a half-written version
    for old in versions(directory)[:-KEEP]:
        (directory / f"{PREFIX}{old}{SUFFIX}").unlink(missing_ok=True)
    return path


def versions(directory: Path) -> list[str]:
    """Saved versions, oldest first."""
    if not directory.is_dir():
        return []
    names = (entry.name for entry in os.scandir(directory))
    return sorted(
        name[len(PREFIX) : -len(SUFFIX)]
        for name in names
        if name.startswith(PREFIX) and name.endswith(SUFFIX)
    )


def load_version(directory: Path, version: str) -> Communities:
    return Communities.load(directory / f"{PREFIX}{version}{SUFFIX}", version)
