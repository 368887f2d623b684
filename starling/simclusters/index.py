"""SimClustersIndex: the newest saved communities, reloaded when a newer version appears.

Readers call `current()` on every use; at most every `check_every_s` it lists the
versions directory (a few names) and loads a newer version when there is one, so a
server picks up the job's output without a restart. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from starling.simclusters.communities import Communities
from starling.simclusters.versions import directory_in, load_version, versions


class SimClustersIndex:
    def __init__(
        self,
        directory: Path,
        *,
        check_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.check_every_s = check_every_s
        self._clock = clock
        self._checked_at: float | None = None
        self._current: Communities | None = None
        self._lock = threading.Lock()

    def current(self) -> Communities | None:
        """The newest version seen, None before the job has run once."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self.check_every_s:
            with self._lock:
                self._checked_at = now
                self._reload()
        return self._current

    def _reload(self) -> None:
        saved = versions(self.directory)
        if saved and (self._current is None or saved[-1] > self._current.version):
            self._current = load_version(self.directory, saved[-1])


def open_index(data_dir: Path) -> SimClustersIndex:
    """The index of the versions the job saves under this data dir."""
    return SimClustersIndex(directory_in(data_dir))
