"""Wakes a log's waiters: at once for appends made in this process (`notify`), by polling
for appends made by another. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Appends made by another process are only seen by polling, so a waiter re-checks at
# least this often.
POLL_INTERVAL_S = 0.05


class Wakeup:
    def __init__(self) -> None:
        self._appended = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        """Wakes every waiter; called after this process appended."""
        with self._appended:
            self._generation += 1
            self._appended.notify_all()

    def wait_for(self, ready: Callable[[], bool], timeout_s: float) -> bool:
        """Blocks until `ready()` holds (checked on each notify and poll) or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            # Read the generation before checking, so a notify in between is not lost.
            with self._appended:
                seen = self._generation
            if ready():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._appended:
                if self._generation == seen:
                    self._appended.wait(min(remaining, POLL_INTERVAL_S))
