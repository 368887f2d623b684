"""Float columns keyed by a sorted id column: the feature store's tables. Rows are found
for a whole batch of ids with one binary search; new ids are inserted a batch at a time,
in id order (snowflakes arrive nearly sorted, so an insert is almost always an append).
See docs/subsystems/ranking.md#feature-store.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]
Matrix = npt.NDArray[np.float64]

INITIAL_CAPACITY = 1024


class IdTable:
    """`values[row, column]` for the row of each id; ids ascending. Not thread-safe: the
    feature state serialises its writer and readers."""

    def __init__(self, columns: tuple[str, ...], capacity: int = INITIAL_CAPACITY) -> None:
        self.columns = columns
        self.column = {name: i for i, name in enumerate(columns)}
        self.size = 0
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._values = np.zeros((capacity, len(columns)), dtype=np.float64)

    @property
    def ids(self) -> Ids:
        return self._ids[: self.size]

    @property
    def values(self) -> Matrix:
        return self._values[: self.size]

    def rows(self, ids: Ids) -> Rows:
        """Each id's row, -1 for an id not in the table."""
        known = self.ids
        if not known.size:
            return np.full(len(ids), -1, dtype=np.intp)
        at = np.minimum(np.searchsorted(known, ids), known.size - 1)
        found: Rows = np.where(known[at] == ids, at, -1)
        return found

    def read(self, ids: Ids, columns: tuple[str, ...]) -> Matrix:
        """A (len(ids) x len(columns)) block; 0 for ids not in the table."""
        rows = self.rows(ids)
        block = self._values[np.maximum(rows, 0)][:, [self.column[c] for c in columns]]
        block[rows < 0] = 0.0
        return block

    def ensure(self, ids: Ids) -> Rows:
        """The rows of these ids, inserting (with zeros) those not in the table yet."""
        missing = np.unique(ids[self.rows(ids) < 0])
        if missing.size:
            self._insert(missing)
        return self.rows(ids)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Drops the rows the mask does not keep (compaction)."""
        kept = int(mask.sum())
        self._ids[:kept] = self.ids[mask]
        self._values[:kept] = self.values[mask]
        self._values[kept : self.size] = 0.0
        self.size = kept

    def _insert(self, new: Ids) -> None:
        size, needed = self.size, self.size + new.size
        if needed > len(self._ids):
            capacity = max(needed, 2 * len(self._ids))
            self._ids = np.resize(self._ids, capacity)
            values = np.zeros((capacity, len(self.columns)), dtype=np.float64)
            values[:size] = self._values[:size]
            self._values = values
        self._ids[size:needed] = new
        self.size = needed
        if size and new[0] < self._ids[size - 1]:  # out of order: sort the rows again
            order = np.argsort(self._ids[:needed], kind="stable")
            self._ids[:needed] = self._ids[:needed][order]
            self._values[:needed] = self._values[:needed][order]
