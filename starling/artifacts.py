"""Versioned files of scheduled jobs (communities, embeddings, trained models): each run
writes a new version atomically, readers load the newest and pick up a newer one while
serving, without a restart. See docs/architecture.md#versioned-artifacts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

SUFFIX = ".npz"
KEEP = 3  # versions kept on disk: the newest and two to fall back on by hand


def new_version() -> str:
    """Sorts in time order as a string: milliseconds, zero-padded."""
    return f"{time.time_ns() // 1_000_000:015d}"


@dataclass(frozen=True)
class Artifacts:
    """One kind of artifact: `<directory>/<prefix><version>.npz`."""

    directory: Path
    prefix: str

    def path(self, version: str) -> Path:
        return self.directory / f"{self.prefix}{version}{SUFFIX}"

    def save(self, version: str, write: Callable[[Path], None]) -> Path:
        """Writes a version under a temporary name, then renames it, so readers never see
        half a file; keeps the newest `KEEP`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(version)
        partial = self.directory / f".{path.name}.partial{SUFFIX}"
        write(partial)
        os.replace(partial, path)
        for old in self.versions()[:-KEEP]:
            self.path(old).unlink(missing_ok=True)
        return path

    def versions(self) -> list[str]:
        """Saved versions, oldest first."""
        if not self.directory.is_dir():
            return []
        names = (entry.name for entry in os.scandir(self.directory))
        return sorted(
            name[len(self.prefix) : -len(SUFFIX)]
            for name in names
            if name.startswith(self.prefix) and name.endswith(SUFFIX)
        )


class Newest(Generic[T]):
    """The newest saved version, loaded; reloaded when a newer one appears.

    Readers call `current()` on every use; at most every `check_every_s` it lists the
    directory (a few names) and loads a newer version when there is one. Until a version
    is saved, `fallback` (when given: a default shipped with the package) is loaded once
    and served."""

    def __init__(
        self,
        artifacts: Artifacts,
        load: Callable[[Path, str], T],
        *,
        check_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        fallback: Callable[[], T] | None = None,
    ) -> None:
        self.artifacts = artifacts
        self._load = load
        self.check_every_s = check_every_s
        self._clock = clock
        self._fallback = fallback
        self._checked_at: float | None = None
        self._current: T | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def current(self) -> T | None:
        """The newest version seen (else the fallback), None before the job has run once."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self.check_every_s:
            with self._lock:
                self._checked_at = now
                self._reload()
        return self._current

    @property
    def version(self) -> str | None:
        return self._version

    def _reload(self) -> None:
        saved = self.artifacts.versions()
        if saved and (self._version is None or saved[-1] > self._version):
            self._current = self._load(self.artifacts.path(saved[-1]), saved[-1])
            self._version = saved[-1]
        elif not saved and self._current is None and self._fallback is not None:
            self._current = self._fallback()
