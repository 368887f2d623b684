"""The event log kept in the store's SQLite file (table `events`).

Store transactions append to it (store.sqlite emits in the write's own commit); this
class reads, tracks consumer-group offsets and lets consumers block until something
new arrives. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from starling.model import Event
from starling.store.schema import ThreadConnections

# notify() wakes waiters in this process at once; appends made by another process are
# only seen by polling, so a waiter re-checks at least this often.
POLL_INTERVAL_S = 0.05


class SqliteEventLog:
    """See eventlog.base.EventLog. Wire `notify` to the store's on_commit."""

    def __init__(self, path: Path) -> None:
        self._conns = ThreadConnections(path)
        self._appended = threading.Condition()
        self._generation = 0

    def read(self, after: int, limit: int) -> list[Event]:
        rows = self._conns.get().execute(
            "SELECT offset, type, payload, ts FROM events WHERE offset > ? ORDER BY offset LIMIT ?",
            (after, limit),
        )
        return [
            Event(type=kind, payload=json.loads(payload), ts=ts, offset=offset)
            for offset, kind, payload, ts in rows
        ]

    def last_offset(self) -> int:
        row = self._conns.get().execute("SELECT COALESCE(MAX(offset), 0) FROM events").fetchone()
        return int(row[0])

    def committed(self, group: str) -> int:
        row = (
            self._conns.get()
            .execute("SELECT offset FROM consumer_offsets WHERE grp = ?", (group,))
            .fetchone()
        )
        return 0 if row is None else int(row[0])

    def commit(self, group: str, offset: int) -> None:
        # MAX: a slow consumer committing late must not move the group back.
        self._conns.get().execute(
            "INSERT INTO consumer_offsets (grp, offset) VALUES (?, ?)"
            " ON CONFLICT (grp) DO UPDATE SET offset = MAX(offset, excluded.offset)",
            (group, offset),
        )

    def notify(self) -> None:
        """Wakes every waiter; called after a commit that appended events."""
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

    def close(self) -> None:
        self._conns.close()
