"""The base every log consumer shares: reading as one consumer of its group, batching,
retries, metrics and shutdown.

A worker reads a batch for its group, applies it, then commits it. A crash between apply
and commit hands the batch to another consumer of the group (or to this one restarted),
so applying must be idempotent. Most workers need only the events (`EventWorker.apply`);
the relay also needs where each sits in the log. See docs/subsystems/workers.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod

from starling import metrics
from starling.eventlog.base import EventLog, LogEntry
from starling.events import Event

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.05, 0.2, 1.0, 5.0)


class Worker(ABC):
    name: str = "worker"
    batch_size: int = 500
    tick_every_s: float = 1.0
    # Writes an in-process cache role, so a process of its own needs the shared Redis.
    needs_shared_cache: bool = False

    def __init__(self, log: EventLog) -> None:
        self.log = log
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
        lag = self.log.lag(self.name)
        metrics.WORKER_BACKLOG.labels(self.name).set(lag)
        return lag

    def run_once(self) -> int:
        """Applies one batch; returns how many events it held (0 when caught up)."""
        with self._lock:
            entries = self.log.read(self.name, self.consumer, self.batch_size)
            if not entries:
                return 0
            self.apply_entries(entries)
            self.log.commit(self.name, self.consumer, entries)
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
            try:
                applied = self.run_once()
                failures = 0
            except Exception:
                delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
                failures += 1
                log.exception("%s failed; retrying in %.2fs", self.name, delay)
                stop.wait(delay)
                continue
            if not applied:
                self.tick()
                self.log.wait(self.name, self.consumer, self.tick_every_s)
        self.log.release(self.name, self.consumer)


class EventWorker(Worker):
    """A worker that needs only the events of a batch."""

    def apply_entries(self, entries: list[LogEntry]) -> None:
        self.apply([entry.event for entry in entries])

    @abstractmethod
    def apply(self, events: list[Event]) -> None:
        """Applies a batch; must be idempotent (a batch may be applied twice)."""
