"""Precomputed For You lists for active viewers (seed: Bottleneck 1, "aggressive
precomputation"; Twitter caches scored candidates for 3 minutes). The timeline notes who
reads it (`RecentReaders`); the precompute worker keeps the ranked list of every viewer
who read in the last 10 minutes no older than 2 minutes, so it is still fresh (3
minutes) when the next page is asked for, and forgets a viewer's list when the viewer
follows, unfollows, blocks or mutes someone (its candidates changed). A page of a fresh
list costs a few cache reads and one store read of its posts instead of a pipeline run.
See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from typing import Protocol

from starling.cache.errors import CacheUnavailable, degraded
from starling.eventlog.base import EventLog
from starling.events import BlockCreated, Event, FollowCreated, FollowDeleted, MuteCreated
from starling.foryou.filters import Clock
from starling.store.base import StoreUnavailable
from starling.workers.base import EventWorker

log = logging.getLogger(__name__)

ACTIVE_MS = 10 * 60 * 1000  # a viewer who read within this is kept precomputed
FRESH_MS = 3 * 60 * 1000  # a list this young is served as it is
REFRESH_MS = 2 * 60 * 1000  # a list this old is ranked again, before it stops being fresh
PER_TICK = 50  # viewers ranked per tick at most, so a tick stays short


class RecentReaders:
    """When each viewer last read For You and when its list was ranked, in this process.
    Thread-safe; viewers idle for longer than ACTIVE_MS are forgotten."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._read: dict[int, int] = {}
        self._ranked: dict[int, int] = {}

    def read(self, viewer_id: int) -> None:
        with self._lock:
            self._read[viewer_id] = self.clock()

    def ranked(self, viewer_id: int, at: int) -> None:
        with self._lock:
            self._ranked[viewer_id] = at

    def forget(self, viewer_ids: Collection[int]) -> None:
        """Their lists are gone: they are due at once."""
        with self._lock:
            for viewer_id in viewer_ids:
                self._ranked.pop(viewer_id, None)

    def due(self, limit: int = PER_TICK) -> list[int]:
        """Active viewers whose list is older than REFRESH_MS (or missing), oldest first."""
        now = self.clock()
        with self._lock:
            idle = [v for v, at in self._read.items() if now - at >= ACTIVE_MS]
            for viewer_id in idle:
                del self._read[viewer_id]
                self._ranked.pop(viewer_id, None)
            due = [v for v in self._read if now - self._ranked.get(v, 0) >= REFRESH_MS]
            return sorted(due, key=lambda v: self._ranked.get(v, 0))[:limit]


class Precomputing(Protocol):
    """What the worker needs of the timeline (kept narrow: the worker never reads pages)."""

    @property
    def readers(self) -> RecentReaders: ...

    def precompute(self, viewer_id: int) -> None: ...

    def forget(self, viewer_ids: Collection[int]) -> None: ...


class PrecomputeWorker(EventWorker):
    name = "precompute"

    def __init__(self, log: EventLog, timeline: Callable[[], Precomputing]) -> None:
        super().__init__(log)
        # Asked for on use: the timeline is built after the workers whose in-process state
        # its sources and features read.
        self._timeline = timeline

    @property
    def timeline(self) -> Precomputing:
        return self._timeline()

    def apply(self, events: list[Event]) -> None:
        changed = {e.follower_id for e in events if isinstance(e, FollowCreated | FollowDeleted)}
        changed |= {e.actor_id for e in events if isinstance(e, BlockCreated | MuteCreated)}
        if changed:
            self.timeline.forget(changed)
        self.tick()

    def tick(self) -> None:
        """Ranks the lists that are due; a viewer whose run fails waits for the next tick."""
        for viewer_id in self.timeline.readers.due():
            try:
                self.timeline.precompute(viewer_id)
            except CacheUnavailable as exc:
                degraded("for_you_precompute", exc)  # no cache: no precompute, nothing to do
                return
            except StoreUnavailable as exc:
                log.warning("precompute waits for the store: %s", exc)
                return
