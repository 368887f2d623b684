"""SimClustersIndex: the newest saved communities, reloaded when a newer version appears
(starling/artifacts.py), so a server picks up the job's output without a restart.
See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starling.artifacts import Newest
from starling.simclusters.communities import Communities
from starling.simclusters.versions import artifacts_in, directory_in


class SimClustersIndex(Newest[Communities]):
    def __init__(
        self,
        directory: Path,
        *,
        check_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            artifacts_in(directory),
            Communities.load,
            check_every_s=check_every_s,
            clock=clock,
        )


def open_index(data_dir: Path) -> SimClustersIndex:
    """The index of the versions the job saves under this data dir."""
    return SimClustersIndex(directory_in(data_dir))
