"""The event-log interface: durable, append-only, ordered per partition, read by consumer
groups.

Appends happen through `store.Transaction.emit`, in the same commit as the write they
describe (the outbox); a relay may then move them to another log (Redis Streams). A
consumer group reads entries, applies them, then commits them. Within a group each entry
goes to one consumer at a time; entries a consumer took and never committed (it died) are
handed to another after the log's claim timeout, so consumers must be idempotent.
Positions are opaque strings, comparable only through the log that made them. A log whose
server cannot be reached raises `LogUnavailable` (the outbox, the store's
`StoreUnavailable`), which consumers wait out. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from starling.events import Event

Position = str


class LogUnavailable(Exception):
    """The log's server cannot be reached (connection lost or refused, timeout). The call
    may be retried: an entry appended twice is refused, one read and not committed is
    read again."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    event: Event
    partition: int
    position: Position


class EventLog(Protocol):
    partitions: int

    def read(self, group: str, consumer: str, limit: int) -> list[LogEntry]:
        """The group's next entries for this consumer, at most limit: first those it read
        before and did not commit (a batch whose apply failed is retried), then those
        another consumer of the group read and left uncommitted past the claim timeout,
        then new ones. Oldest first within each partition."""

    def commit(self, group: str, consumer: str, entries: Sequence[LogEntry]) -> None:
        """Records that the group applied these entries. A group never moves back."""

    def lag(self, group: str) -> int:
        """Entries appended that the group has not committed yet."""

    def wait(self, group: str, consumer: str, timeout_s: float) -> bool:
        """Blocks until this consumer of the group may have entries to read, or the
        timeout passes."""

    def replay(self, partition: int, after: Position | None, limit: int) -> list[LogEntry]:
        """Entries of one partition after a position (None: from the oldest kept), read
        outside any group: for rebuilding derived state and inspecting the log."""

    def release(self, group: str, consumer: str) -> None:
        """A consumer stopping cleanly gives up what it holds, so a peer need not wait out
        the claim timeout."""

    def close(self) -> None: ...
