"""The data dir's schedule lock: an exclusive, non-blocking `flock` on
`<data_dir>/jobs.lock`. Whichever process holds it schedules; the kernel releases it when
that process dies, and the next process to try takes over. The holder writes its pid into
the file for `starling jobs --list`. See docs/subsystems/jobs.md."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from starling.config import Settings


def lock_path(settings: Settings) -> Path:
    return settings.data_dir / "jobs.lock"


class ScheduleLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> bool:
        """Holds the lock from now on (True), or another process holds it (False)."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")  # not "w": that would empty the holder's pid
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def holder(path: Path) -> int | None:
    """The pid of the process that holds the lock, None when no process does."""
    probe = ScheduleLock(path)
    if probe.acquire():
        probe.release()
        return None
    text = path.read_text().strip()
    return int(text) if text.isdigit() else None
