"""The event log kept in the store of record's own `events` table (the outbox).

One partition; offsets are dense integers in commit order. A consumer group has one
committed offset and one lease: the consumer holding the lease reads, and a consumer that
stops renewing it (it died) loses it after the claim timeout, so another resumes from the
group's committed offset. The SQL is shared by every store; a backend supplies only how
to run it: the store's own connections (`Sql`) and its dialect.
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

from starling import events
from starling.eventlog.base import LogEntry, Position
from starling.ids import now_ms
from starling.store.dialect import Dialect
from starling.store.sql import Sql

# notify() wakes waiters in this process at once; appends made by another process are
# only seen by polling, so a waiter re-checks at least this often.
POLL_INTERVAL_S = 0.05
DEFAULT_CLAIM_AFTER_S = 10.0

# "offset" is quoted: PostgreSQL reserves the word.
_READ = 'SELECT "offset", type, payload FROM events WHERE "offset" > ? ORDER BY "offset" LIMIT ?'
_LAST = 'SELECT COALESCE(MAX("offset"), 0) FROM events'
_COMMITTED = 'SELECT "offset" FROM consumer_offsets WHERE grp = ?'
# GREATEST/MAX: a slow consumer committing late must not move the group back.
_COMMIT = (
    'INSERT INTO consumer_offsets (grp, "offset") VALUES (?, ?)'
    ' ON CONFLICT (grp) DO UPDATE SET "offset" = {greatest}(consumer_offsets."offset",'
    ' excluded."offset")'
)
# Taken when free, expired or already ours; the row then names the holder.
_LEASE = (
    "INSERT INTO consumer_leases (grp, consumer, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (grp) DO UPDATE SET consumer = excluded.consumer,"
    " expires_at = excluded.expires_at"
    " WHERE consumer_leases.consumer = excluded.consumer OR consumer_leases.expires_at < ?"
)
_HOLDER = "SELECT consumer FROM consumer_leases WHERE grp = ?"
_LEASE_STATE = "SELECT consumer, expires_at FROM consumer_leases WHERE grp = ?"
_RELEASE = "DELETE FROM consumer_leases WHERE grp = ? AND consumer = ?"
_TRIM = 'DELETE FROM events WHERE "offset" <= ? AND ts < ?'


class OutboxLog:
    """See eventlog.base.EventLog. Wire `notify` to the store's commits in this process."""

    partitions = 1

    def __init__(
        self, sql: Sql, dialect: Dialect, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S
    ) -> None:
        self._sql = sql
        self._commit_sql = _COMMIT.format(greatest=dialect.greatest)
        self._claim_after_ms = int(claim_after_s * 1000)
        self._appended = threading.Condition()
        self._generation = 0

    def read(self, group: str, consumer: str, limit: int) -> list[LogEntry]:
        if not self._hold_lease(group, consumer):
            return []
        return self._entries(self.committed(group), limit)

    def commit(self, group: str, consumer: str, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        newest = max(int(e.position) for e in entries)
        self._sql.run(self._commit_sql, (group, newest))
        self._hold_lease(group, consumer)

    def release(self, group: str, consumer: str) -> None:
        """Gives the lease up at once (a clean shutdown), so another consumer need not wait."""
        self._sql.run(_RELEASE, (group, consumer))

    def lag(self, group: str) -> int:
        return self.last_offset() - self.committed(group)

    def wait(self, group: str, consumer: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            # Read the generation before checking, so a notify in between is not lost.
            with self._appended:
                seen = self._generation
            if self.lag(group) > 0 and self._may_hold(group, consumer):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._appended:
                if self._generation == seen:
                    self._appended.wait(min(remaining, POLL_INTERVAL_S))

    def replay(self, partition: int, after: Position | None, limit: int) -> list[LogEntry]:
        if partition != 0:
            raise ValueError(f"the outbox has one partition, not {partition}")
        return self._entries(0 if after is None else int(after), limit)

    def notify(self) -> None:
        """Wakes every waiter; called after a commit that appended events."""
        with self._appended:
            self._generation += 1
            self._appended.notify_all()

    # Outbox housekeeping, for the relay and tools

    def last_offset(self) -> int:
        return int(self._sql.one(_LAST)[0])

    def committed(self, group: str) -> int:
        row = self._sql.one(_COMMITTED, (group,))
        return 0 if row is None else int(row[0])

    def trim(self, upto: int, older_than_ms: int) -> int:
        """Deletes events at or below offset `upto` written before `older_than_ms`."""
        return self._sql.run(_TRIM, (upto, older_than_ms))

    def close(self) -> None:
        """The connections are the store's, closed with it."""

    def _entries(self, after: int, limit: int) -> list[LogEntry]:
        return [
            LogEntry(events.decode(kind, json.loads(payload)), 0, str(offset))
            for offset, kind, payload in self._sql.rows(_READ, (after, limit))
        ]

    def _may_hold(self, group: str, consumer: str) -> bool:
        row = self._sql.one(_LEASE_STATE, (group,))
        return row is None or row[0] == consumer or row[1] < now_ms()

    def _hold_lease(self, group: str, consumer: str) -> bool:
        now = now_ms()
        self._sql.run(_LEASE, (group, consumer, now + self._claim_after_ms, now))
        row = self._sql.one(_HOLDER, (group,))
        return row is not None and row[0] == consumer
