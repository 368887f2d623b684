"""The base every log consumer shares: reading as one consumer of its group, batching,
retries, metrics and shutdown.

A worker reads a batch for its group, applies it, then commits it. A crash between apply
and commit hands the batch to another consumer of the group (or to this one restarted),
so applying must be idempotent. Most workers need only the events (`EventWorker.apply`);
the relay also needs where each sits in the log. A batch that fails is retried,
uncommitted, after a back-off; an outage of the cache, the store or the log
(`CacheUnavailable`, `StoreUnavailable`, `LogUnavailable`) is retried at least every
second and logged in one line, so the worker resumes soon after its backend returns.
See docs/subsystems/workers.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod

from starling import metrics
from starling.cache.errors import CacheUnavailable
from starling.eventlog.base import EventLog, LogEntry, LogUnavailable
from starling.events import Event
from starling.store.base import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.05, 0.2, 1.0, 5.0)
OUTAGE_RETRY_DELAYS_S = (0.05, 0.2, 1.0)  # a failed probe of a lost backend costs little
OUTAGES = (CacheUnavailable, StoreUnavailable, LogUnavailable)


class Worker(ABC):
    name: str = "worker"
    batch_size: int = 500
    tick_every_s: float = 1.0

    def __init__(self, log: EventLog) -> None:
        self.log = log
        # The consumer group: the name, unless each process keeps its own copy of the
        # state (registry.replica_group) and so reads every event itself.
        self.group = self.name
        # Unique per instance: the log tells this consumer's entries from its peers'.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()

    @abstractmethod
    def apply_entries(self, entries: list[LogEntry]) -> None:
        """Applies a batch; must be idempotent (a batch may be applied twice)."""

    def tick(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Periodic work with no event to trigger it."""

    def backlog(self) -> int:
        """Events the group has not applied yet; also published as a gauge."""
        lag = self.log.lag(self.group)
        metrics.WORKER_BACKLOG.labels(self.name).set(lag)
        return lag

    def run_once(self) -> int:
        """Applies one batch; returns how many events it held (0 when caught up)."""
        with self._lock:
            entries = self.log.read(self.group, self.consumer, self.batch_size)
            if not entries:
                return 0
            self.apply_entries(entries)
            self.log.commit(self.group, self.consumer, entries)
        metrics.WORKER_EVENTS.labels(self.name).inc(len(entries))
        self.backlog()
        return len(entries)

    def drain(self) -> None:
        while self.run_once():
            pass
        self.tick()

    def run_forever(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            # The idle tick and wait are inside too: a tick that fails must not end the thread.
            try:
                if not self.run_once():
                    self.tick()
                    self.log.wait(self.group, self.consumer, self.tick_every_s)
                failures = 0
            except Exception as exc:
                stop.wait(self._back_off(exc, failures))
                failures += 1
        self.release()

    def release(self) -> None:
        """Gives up the entries this consumer holds, so a peer need not wait out the
        claim timeout; with the log out of reach, peers claim them after it."""
        try:
            self.log.release(self.group, self.consumer)
        except OUTAGES as exc:
            log.warning("%s stops holding entries it could not release (%s)", self.name, exc)

    def _back_off(self, exc: Exception, failures: int) -> float:
        """Logs a failed batch; returns how long to wait before retrying it."""
        outage = isinstance(exc, OUTAGES)
        delays = OUTAGE_RETRY_DELAYS_S if outage else RETRY_DELAYS_S
        delay = delays[min(failures, len(delays) - 1)]
        if outage:
            log.warning("%s waits for its backend (%s); retrying in %.2fs", self.name, exc, delay)
        else:
            log.error("%s failed; retrying in %.2fs", self.name, delay, exc_info=exc)
        return delay


class EventWorker(Worker):
    """A worker that needs only the events of a batch."""

    def apply_entries(self, entries: list[LogEntry]) -> None:
        self.apply([entry.event for entry in entries])

    @abstractmethod
    def apply(self, events: list[Event]) -> None:
        """Applies a batch; must be idempotent (a batch may be applied twice)."""
