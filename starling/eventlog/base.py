"""The event-log interface: durable, append-only, ordered, with consumer-group offsets.

Appends happen through `store.Transaction.emit`, in the same commit as the write they
describe. Consumers read in batches after their committed offset and commit when the
batch is applied; a consumer that dies re-reads from its last commit, so consumers
must be idempotent. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

from typing import Protocol

from starling.model import Event


class EventLog(Protocol):
    def read(self, after: int, limit: int) -> list[Event]:
        """Events with offset > after, oldest first, at most limit."""

    def last_offset(self) -> int:
        """Offset of the newest event, 0 when empty."""

    def committed(self, group: str) -> int:
        """The group's committed offset, 0 when it never committed."""

    def commit(self, group: str, offset: int) -> None:
        """Records that the group applied every event up to offset. Never moves back."""

    def wait(self, after: int, timeout_s: float) -> bool:
        """Blocks until an event with offset > after exists or the timeout passes."""

    def close(self) -> None: ...
