"""The event log kept in the store of record's own `events` table (the outbox).

One partition; offsets are dense integers in commit order. A consumer group has one
committed offset and one lease: the consumer holding the lease reads, and a consumer that
stops renewing it (it died) loses it after the claim timeout, so another resumes from the
group's committed offset. The SQL is shared by every store and runs on the store's own
connections (`Sql`) in its dialect. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from starling import events
from starling.eventlog.base import LogEntry, Position
from starling.eventlog.wakeup import Wakeup
from starling.ids import now_ms
from starling.store.dialect import Dialect
from starling.store.sql import Sql

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
# Walks up from the oldest event and stops at the first one still retained: it reads only
# the events about to be trimmed.
_RETAINED_FROM = (
    'SELECT "offset" FROM events WHERE "offset" <= ? AND ts >= ? ORDER BY "offset" LIMIT 1'
)


class OutboxLog:
    """See eventlog.base.EventLog. Wire `notify` to the store's commits in this process."""

    partitions = 1

    def __init__(
        self, sql: Sql, dialect: Dialect, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S
    ) -> None:
        self._sql = sql
        self._commit_sql = _COMMIT.format(greatest=dialect.greatest)
        self._claim_after_ms = int(claim_after_s * 1000)
        self._wakeup = Wakeup()
        self._renewed: dict[tuple[str, str], int] = {}  # (group, consumer) -> lease taken at
        # Per group: offset committed through this log, offset written, when, how often.
        self._applied: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._written_at: dict[str, float] = {}
        self._write_every: dict[str, float] = {}

    def read(self, group: str, consumer: str, limit: int) -> list[LogEntry]:
        if not self._hold_lease(group, consumer):
            return []
        return self._entries(self.committed(group), limit)

    def commit(self, group: str, consumer: str, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        newest = max(int(e.position) for e in entries)
        self._applied[group] = max(self._applied.get(group, 0), newest)
        since = time.monotonic() - self._written_at.get(group, float("-inf"))
        if since >= self._write_every.get(group, 0.0):
            self._write_position(group)
        self._hold_lease(group, consumer)

    def write_positions_every(self, group: str, seconds: float) -> None:
        """Lets the group's commits reach the store at most every `seconds` (reads here go
        on from the newest), for a group whose output ignores entries applied twice: the
        relay's. A crash then re-delivers up to that much, and the store's single writer,
        which the writes being logged keep busy, is spared a write per batch."""
        self._write_every[group] = seconds

    def release(self, group: str, consumer: str) -> None:
        """Gives the lease up at once (a clean shutdown), so another consumer need not wait."""
        self._write_position(group)
        self._renewed.pop((group, consumer), None)
        self._sql.run(_RELEASE, (group, consumer))

    def lag(self, group: str) -> int:
        return self.last_offset() - self.committed(group)

    def wait(self, group: str, consumer: str, timeout_s: float) -> bool:
        return self._wakeup.wait_for(
            lambda: self.lag(group) > 0 and self._may_hold(group, consumer), timeout_s
        )

    def replay(self, partition: int, after: Position | None, limit: int) -> list[LogEntry]:
        if partition != 0:
            raise ValueError(f"the outbox has one partition, not {partition}")
        return self._entries(0 if after is None else int(after), limit)

    def notify(self) -> None:
        """Wakes every waiter; called after a commit that appended events."""
        self._wakeup.notify()

    # Outbox housekeeping, for the relay and tools

    def last_offset(self) -> int:
        return int(self._sql.one(_LAST)[0])

    def committed(self, group: str) -> int:
        row = self._sql.one(_COMMITTED, (group,))
        return max(0 if row is None else int(row[0]), self._applied.get(group, 0))

    def trim(self, upto: int, older_than_ms: int) -> int:
        """Deletes events at or below offset `upto` written before `older_than_ms`."""
        return self._sql.run(_TRIM, (upto, older_than_ms))

    def retained_from(self, upto: int, since_ms: int) -> int:
        """The oldest offset at or below `upto` written at or after `since_ms`, else
        upto + 1: every event before it is older, so a log trimmed below it keeps an
        unbroken suffix."""
        row = self._sql.one(_RETAINED_FROM, (upto, since_ms))
        return upto + 1 if row is None else int(row[0])

    def close(self) -> None:
        """Writes the positions still held back; the connections are the store's."""
        for group in list(self._applied):
            self._write_position(group)

    def _write_position(self, group: str) -> None:
        applied = self._applied.get(group, 0)
        if applied > self._written.get(group, 0):
            self._sql.run(self._commit_sql, (group, applied))
            self._written[group] = applied
            self._written_at[group] = time.monotonic()

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
        # Renewed less than half a claim timeout ago: still ours, as nobody takes a lease
        # before it expires. Skipping the write spares the store's single writer, which
        # the writes being logged keep busy.
        key = (group, consumer)
        if now - self._renewed.get(key, -self._claim_after_ms) < self._claim_after_ms // 2:
            return True
        self._sql.run(_LEASE, (group, consumer, now + self._claim_after_ms, now))
        row = self._sql.one(_HOLDER, (group,))
        if row is not None and row[0] == consumer:
            self._renewed[key] = now
            return True
        self._renewed.pop(key, None)
        return False
