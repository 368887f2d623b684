"""The keys of the newest events a consumer applied, bounded, so that a re-delivered event
(at-least-once log) changes nothing. See docs/subsystems/workers.md.
"""

from __future__ import annotations

from collections.abc import Hashable


class AppliedKeys:
    """Remembers the last `capacity` keys, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: dict[Hashable, None] = {}  # insertion-ordered

    def first_time(self, key: Hashable) -> bool:
        """True the first time a key is seen (while remembered), and remembers it."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            del self._keys[next(iter(self._keys))]
        return True

    def clear(self) -> None:
        self._keys.clear()
