"""What the event logs kept in a store's `events` table share: decoding rows, and
waiting for appends (woken at once by `notify()` in this process, by polling for appends
made elsewhere). See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from starling.model import Event

# notify() wakes waiters in this process at once; appends made by another process are
# only seen by polling, so a waiter re-checks at least this often.
POLL_INTERVAL_S = 0.05


class PolledLog(ABC):
    """The `notify` and `wait` of an event log whose `last_offset` is a query."""

    def __init__(self) -> None:
        self._appended = threading.Condition()
        self._generation = 0

    @abstractmethod
    def last_offset(self) -> int: ...

    def notify(self) -> None:
        """Wakes every waiter; wire it to the store's on_commit."""
        with self._appended:
            self._generation += 1
            self._appended.notify_all()

    def wait(self, after: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            # Read the generation before checking, so a notify in between is not lost.
            with self._appended:
                seen = self._generation
            if self.last_offset() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._appended:
                if self._generation == seen:
                    self._appended.wait(min(remaining, POLL_INTERVAL_S))


def events_from_rows(rows: Iterable[Any]) -> list[Event]:
    """Rows of (offset, type, payload JSON, ts)."""
    return [
        Event(type=kind, payload=json.loads(payload), ts=ts, offset=offset)
        for offset, kind, payload, ts in rows
    ]
