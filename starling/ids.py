"""Time-ordered 64-bit ids in Mastodon's format: (milliseconds << 16) | sequence.

Clients turn a datetime into an id by shifting, so paging by max_id works with dates too.
See docs/architecture.md.
"""

from __future__ import annotations

import threading
import time

SEQUENCE_BITS = 16
SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


def id_at(ms: int, sequence: int = 0) -> int:
    """The id for a millisecond timestamp and a sequence within that millisecond."""
    return (ms << SEQUENCE_BITS) | (sequence & SEQUENCE_MASK)


def ms_of(snowflake: int) -> int:
    """The millisecond timestamp an id was made at."""
    return snowflake >> SEQUENCE_BITS


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdGenerator:
    """Hands out strictly increasing ids; thread-safe.

    When more than 65,536 ids are asked for in one millisecond, or the clock steps
    back, the generator borrows from the next millisecond rather than repeat an id.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next_id(self) -> int:
        with self._lock:
            candidate = id_at(now_ms())
            self._last = max(candidate, self._last + 1)
            return self._last

    def observe(self, existing: int) -> None:
        """Never hand out an id at or below one already stored (after a restart)."""
        with self._lock:
            self._last = max(self._last, existing)
