"""Who gets pushed and who gets pulled (seed: Deep Dive 2, dynamic threshold).

Authors under the celebrity threshold are pushed into their active followers' timelines;
authors at or above it go to the celebrity index and are merged at read time. The
threshold moves with load: lowered when the fan-out backlog is deep or breaking news is
flagged, raised when capacity is. See docs/subsystems/fanout.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from starling import metrics
from starling.config import Settings

HOUR_MS = 3600 * 1000


FLAGS_RECHECK_S = 1.0


@dataclass
class FanoutFlags:
    """Operator switches. Breaking news wins over capacity, as the seed orders them."""

    breaking_news: bool = False
    capacity_raised: bool = False


class FlagsFile:
    """Flags kept in a small JSON file in the data dir, so `starling admin fanout` can
    flip them for every process on the machine; re-read at most once a second."""

    def __init__(self, path: Path, default: FanoutFlags) -> None:
        self.path = path
        self.default = default
        self._flags = default
        self._checked = 0.0
        self._mtime = 0.0

    def read(self) -> FanoutFlags:
        now = time.monotonic()
        if now - self._checked >= FLAGS_RECHECK_S:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                self._flags = self.default
            else:
                if mtime != self._mtime:
                    self._mtime = mtime
                    self._flags = FanoutFlags(**json.loads(self.path.read_text()))
        return self._flags

    def write(self, flags: FanoutFlags) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(flags)))
        os.replace(tmp, self.path)
        self._checked = 0.0


class ThresholdPolicy:
    def __init__(
        self, settings: Settings, backlog: Callable[[], int], flags: Callable[[], FanoutFlags]
    ) -> None:
        self.settings = settings
        self.backlog = backlog
        self.flags = flags

    def current(self) -> int:
        """The threshold in force now, lowest applicable first."""
        s = self.settings
        flags = self.flags()
        if flags.breaking_news:
            value = s.celebrity_threshold_breaking_news
        elif self.backlog() > s.fanout_backlog_limit:
            value = s.celebrity_threshold_under_load
        elif flags.capacity_raised:
            value = s.celebrity_threshold_raised
        else:
            value = s.celebrity_threshold
        metrics.CELEBRITY_THRESHOLD.set(value)
        return value

    def is_celebrity(
        self, followers_count: int, threshold: int, posts_last_hour: Callable[[], int]
    ) -> bool:
        """Pull instead of push, under `threshold` (current(), read once per batch)?
        `posts_last_hour` is only asked when it can matter."""
        if followers_count >= threshold:
            return True
        return (
            followers_count > threshold / 2
            and posts_last_hour() > self.settings.velocity_posts_per_hour
        )
