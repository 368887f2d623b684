"""The keys of the newest events a consumer applied, bounded, so that a re-delivered event
(at-least-once log) changes nothing. See docs/subsystems/workers.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from itertools import islice


class AppliedKeys:
    """Remembers the last `capacity` keys, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: dict[Hashable, None] = {}  # insertion-ordered

    def first_time(self, key: Hashable) -> bool:
        """True the first time a key is seen (while remembered), and remembers it."""
        fresh = self._remember(key)
        self._forget_oldest()
        return fresh

    def first_times(self, keys: Iterable[Hashable]) -> list[bool]:
        """`first_time` of each key in turn, forgetting the oldest once at the end: a key
        repeated within the batch counts once even when the batch outgrows `capacity`."""
        fresh = [self._remember(key) for key in keys]
        self._forget_oldest()
        return fresh

    def clear(self) -> None:
        self._keys.clear()

    def _remember(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        return True

    def _forget_oldest(self) -> None:
        overflow = len(self._keys) - self.capacity
        for key in list(islice(self._keys, max(overflow, 0))):
            del self._keys[key]
