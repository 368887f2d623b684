"""Time-ordered 64-bit ids in Mastodon's format: (milliseconds << 16) | sequence.

Clients turn a datetime into an id by shifting, so paging by max_id works with dates too.
The sequence's top NODE_BITS name the process that made the id (`Settings.id_node`), so
several API processes never hand out the same id. See docs/architecture.md.
"""

from __future__ import annotations

import threading
import time

SEQUENCE_BITS = 16
SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
NODE_BITS = 4  # up to 16 processes make ids at once
NODE_SLOTS = 1 << NODE_BITS
COUNTER_BITS = SEQUENCE_BITS - NODE_BITS  # 4,096 ids per millisecond per process


def id_at(ms: int, sequence: int = 0) -> int:
    """The id for a millisecond timestamp and a sequence within that millisecond."""
    return (ms << SEQUENCE_BITS) | (sequence & SEQUENCE_MASK)


def ms_of(snowflake: int) -> int:
    """The millisecond timestamp an id was made at."""
    return snowflake >> SEQUENCE_BITS


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdGenerator:
    """Hands out strictly increasing ids, all with this process's node number; thread-safe.

    When more than 4,096 ids are asked for in one millisecond, or the clock steps back,
    the generator borrows from the next millisecond rather than repeat an id.
    """

    def __init__(self, node: int = 0) -> None:
        if not 0 <= node < NODE_SLOTS:
            raise ValueError(f"the id node is a number from 0 to {NODE_SLOTS - 1}, not {node}")
        self._first = node << COUNTER_BITS  # this node's first sequence number in a ms
        self._lock = threading.Lock()
        self._last = 0

    def next_id(self) -> int:
        with self._lock:
            self._last = max(id_at(now_ms(), self._first), self._after(self._last))
            return self._last

    def _after(self, last: int) -> int:
        """This node's smallest id above `last`."""
        ms, sequence = ms_of(last), last & SEQUENCE_MASK
        if sequence < self._first:
            return id_at(ms, self._first)
        if sequence < self._first + (1 << COUNTER_BITS) - 1:
            return last + 1
        return id_at(ms + 1, self._first)

    def observe(self, existing: int) -> None:
        """Never hand out an id at or below one already stored (after a restart)."""
        with self._lock:
            self._last = max(self._last, existing)
