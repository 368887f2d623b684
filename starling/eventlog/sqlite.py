"""The event log kept in the store's SQLite file (table `events`).

Store transactions append to it (store.sqlite emits in the write's own commit); this
class reads, tracks consumer-group offsets and lets consumers block until something
new arrives. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

from pathlib import Path

from starling.eventlog.sql import PolledLog, events_from_rows
from starling.model import Event
from starling.store.sqlite_file import ThreadConnections


class SqliteEventLog(PolledLog):
    """See eventlog.base.EventLog. Wire `notify` to the store's on_commit."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._conns = ThreadConnections(path)

    def read(self, after: int, limit: int) -> list[Event]:
        rows = self._conns.get().execute(
            "SELECT offset, type, payload, ts FROM events WHERE offset > ? ORDER BY offset LIMIT ?",
            (after, limit),
        )
        return events_from_rows(rows)

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

    def close(self) -> None:
        self._conns.close()
