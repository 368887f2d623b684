"""Values kept in process by id, the newest `capacity` put (the oldest dropped first):
what For You keeps between requests in front of the store (post records, authors'
counts). Reads are lock-free dict lookups; only a put takes the lock.
See docs/subsystems/foryou.md#kept-post-records-and-counts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    """0 capacity keeps nothing."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._values: OrderedDict[int, V] = OrderedDict()
        self._lock = threading.Lock()

    def many(self, keys: Iterable[int]) -> list[V | None]:
        """The value kept for each key, in order (None where none is)."""
        get = self._values.get
        return [get(key) for key in keys]

    def put(self, items: Iterable[tuple[int, V]]) -> None:
        """Keeps (or replaces) these values; a replaced one counts as the newest."""
        if not self.capacity:
            return
        with self._lock:
            values = self._values
            for key, value in items:
                values[key] = value
                values.move_to_end(key)
            while len(values) > self.capacity:
                values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)
