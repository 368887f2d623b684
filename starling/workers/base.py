"""The base every log consumer shares: offsets, batching, retries, metrics, shutdown.

A worker reads a batch after its group's committed offset, applies it, then commits the
batch's last offset. A crash between apply and commit replays the batch, so `apply` must
be idempotent. See docs/subsystems/workers.md.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

from starling import metrics
from starling.eventlog.base import EventLog
from starling.model import Event

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.05, 0.2, 1.0, 5.0)


class Worker(ABC):
    name: str = "worker"
    batch_size: int = 500
    tick_every_s: float = 1.0

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._lock = threading.Lock()

    @abstractmethod
    def apply(self, events: list[Event]) -> None:
        """Applies a batch; must be idempotent (a batch may be applied twice)."""

    def tick(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Periodic work with no event to trigger it."""

    def backlog(self) -> int:
        return self.log.last_offset() - self.log.committed(self.name)

    def run_once(self) -> int:
        """Applies one batch; returns how many events it held (0 when caught up)."""
        with self._lock:
            events = self.log.read(self.log.committed(self.name), self.batch_size)
            if not events:
                return 0
            self.apply(events)
            self.log.commit(self.name, events[-1].offset)
        metrics.WORKER_EVENTS.labels(self.name).inc(len(events))
        return len(events)

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
                self.log.wait(self.log.committed(self.name), self.tick_every_s)
