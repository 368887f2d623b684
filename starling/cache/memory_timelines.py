"""The in-process timeline cache, the default when no Redis is configured.

Home timelines are segments of two shared numpy arrays (entry ids and source ids), each
just big enough for its entries, so that one post reaches thousands of timelines in a few
vectorised operations. See docs/subsystems/cache.md.
"""

from __future__ import annotations

import mmap
import sys
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from starling.cache.base import IdArray, UserIds, id_array

INITIAL_ROWS = 1024
SMALLEST_SEGMENT = 8
INITIAL_CELLS = 1 << 16  # address space; only written pages take memory
CELL_BYTES = 16  # an entry id and a source id
COMPACT_MIN_CELLS = 1 << 14
SCAN_BLOCK_CELLS = 1 << 17


def _pairs(entries: Sequence[tuple[int, int]]) -> IdArray:
    return np.asarray(entries, dtype=np.int64).reshape(-1, 2)


class _RowIndex:
    """User id -> row number; answers for a whole chunk of users with np.searchsorted.

    The dict is the truth. The sorted arrays lag behind it: users added since they were
    built wait in `_pending` until the next vectorised lookup merges them in, and removed
    users keep their key with row -1 until stale keys outnumber live users.
    """

    def __init__(self) -> None:
        self._row_of: dict[int, int] = {}
        self._keys: IdArray = np.empty(0, np.int64)
        self._rows: IdArray = np.empty(0, np.int64)
        self._pending: list[int] = []
        self._stale = 0

    def __len__(self) -> int:
        return len(self._row_of)

    def get(self, user: int) -> int | None:
        return self._row_of.get(user)

    def add(self, user: int, row: int) -> None:
        self._row_of[user] = row
        at = self._position(user)
        if at is None:
            self._pending.append(user)
        else:  # a removed user coming back: revive its stale key
            self._rows[at] = row
            self._stale -= 1

    def pop(self, user: int) -> int | None:
        row = self._row_of.pop(user, None)
        at = self._position(user) if row is not None else None
        if at is not None:
            self._rows[at] = -1
            self._stale += 1
        return row

    def lookup(self, users: IdArray) -> IdArray:
        """Rows of the users that have one, in no particular order."""
        self._refresh()
        if self._keys.size == 0:
            return self._keys
        users = np.sort(users)  # sorted needles make searchsorted cache-friendly (~3x)
        at = np.searchsorted(self._keys, users)
        np.minimum(at, self._keys.size - 1, out=at)
        rows = self._rows[at]
        known: IdArray = rows[(self._keys[at] == users) & (rows >= 0)]
        return known

    def nbytes(self) -> int:
        """The sorted arrays, and the dict with its Python ints."""
        ints = map(sys.getsizeof, [*self._row_of.keys(), *self._row_of.values()])
        arrays = self._keys.nbytes + self._rows.nbytes
        return int(arrays) + sys.getsizeof(self._row_of) + sum(ints)

    def _position(self, user: int) -> int | None:
        at = int(np.searchsorted(self._keys, user))
        return at if at < self._keys.size and self._keys[at] == user else None

    def _refresh(self) -> None:
        if self._stale > len(self._row_of):
            self._rebuild()
        elif self._pending:
            self._merge_pending()

    def _rebuild(self) -> None:
        keys = np.fromiter(self._row_of.keys(), np.int64, len(self._row_of))
        rows = np.fromiter(self._row_of.values(), np.int64, len(self._row_of))
        order = np.argsort(keys)
        self._keys, self._rows = keys[order], rows[order]
        self._pending.clear()
        self._stale = 0

    def _merge_pending(self) -> None:
        # A pending user may have been removed (or added twice) since.
        new = np.unique(np.array([u for u in self._pending if u in self._row_of], np.int64))
        rows = np.array([self._row_of[u] for u in new.tolist()], np.int64)
        at = np.searchsorted(self._keys, new)
        self._keys = np.insert(self._keys, at, new)
        self._rows = np.insert(self._rows, at, rows)
        self._pending.clear()


class _Stack:
    """A stack of int64 values, pushed and popped many at a time."""

    def __init__(self) -> None:
        self._values: IdArray = np.empty(0, np.int64)
        self._size = 0

    def push(self, values: IdArray) -> None:
        end = self._size + values.size
        if end > self._values.size:
            self._values = _grown(self._values, 2 * end)
        self._values[self._size : end] = values
        self._size = end

    def pop(self, count: int) -> IdArray:
        """Up to count values (fewer when the stack runs out)."""
        taken = min(count, self._size)
        self._size -= taken
        return self._values[self._size : self._size + taken].copy()

    @property
    def nbytes(self) -> int:
        return int(self._values.nbytes)


class _MappedArray:
    """A flat int64 array in an anonymous memory map that grows in place: mremap moves
    page tables, not cells (a copy would stall the push that grows it for tens of
    milliseconds). The kernel maps its pages, zeroed, on first touch."""

    def __init__(self, length: int) -> None:
        self._map = _anonymous_map(8 * length)
        self.values: IdArray = np.frombuffer(self._map, np.int64)

    def reserve(self, length: int) -> None:
        if length > self.values.size:
            length = max(length, 2 * self.values.size)
            del self.values  # a map cannot resize while an array views it
            self._map = _resized(self._map, 8 * length)
            self.values = np.frombuffer(self._map, np.int64)


class _Arena:
    """The cells of every timeline, cut into segments whose sizes are classes: 0, then
    SMALLEST_SEGMENT doubling up to the capacity.

    A freed segment waits on its class's free list for the next segment of that size;
    once free cells outnumber used ones, compact() packs the used segments anew.
    """

    def __init__(self, capacity: int) -> None:
        self.sizes = _size_classes(capacity)
        self._clear()

    def _clear(self) -> None:
        self.entries = _MappedArray(INITIAL_CELLS)
        self.sources = _MappedArray(INITIAL_CELLS)
        self._end = 0  # cells below belong to segments, used or free; none above was written
        self._free = [_Stack() for _ in self.sizes.tolist()]
        self._free_cells = 0

    def fit(self, count: int) -> int:
        """The smallest segment size that holds count entries."""
        return int(self.sizes[np.searchsorted(self.sizes, count)])

    def next_sizes(self, sizes: IdArray) -> IdArray:
        bigger: IdArray = self.sizes[np.searchsorted(self.sizes, sizes) + 1]
        return bigger

    def by_size(self, sizes: IdArray) -> Iterator[tuple[int, IdArray]]:
        """Per segment size present among sizes (0 left out): the size and its positions."""
        classes = np.searchsorted(self.sizes, sizes)
        present = np.bincount(classes, minlength=self.sizes.size)[1:]
        for size_class in (np.flatnonzero(present) + 1).tolist():
            yield int(self.sizes[size_class]), np.flatnonzero(classes == size_class)

    def allocate(self, sizes: IdArray) -> IdArray:
        """Start cells of new segments of these sizes; their cells hold leftovers."""
        starts = np.zeros(sizes.size, np.int64)  # a segment of size 0 starts anywhere
        for size, picked in self.by_size(sizes):
            reused = self._free[self._class_of(size)].pop(picked.size)
            self._free_cells -= reused.size * size
            starts[picked] = np.concatenate([reused, self._bump(size, picked.size - reused.size)])
        return starts

    def release(self, starts: IdArray, sizes: IdArray) -> None:
        for size, picked in self.by_size(sizes):
            self._free[self._class_of(size)].push(starts[picked])
            self._free_cells += size * picked.size

    def copy(self, sources: IdArray, targets: IdArray, lengths: IdArray) -> None:
        """Copies the first lengths[i] cells of segment sources[i] into targets[i]."""
        before, after = _segment_cells(sources, lengths), _segment_cells(targets, lengths)
        self.entries.values[after] = self.entries.values[before]
        self.sources.values[after] = self.sources.values[before]

    def wasteful(self) -> bool:
        """Free cells outnumber used ones, and are worth a compaction."""
        return self._free_cells > max(COMPACT_MIN_CELLS, self._end - self._free_cells)

    def compact(self, starts: IdArray, sizes: IdArray, used: IdArray) -> IdArray:
        """Packs these segments (all that are in use) into fresh maps, keeping their
        first `used` cells; returns their new starts."""
        entries, sources = self.entries, self.sources
        self._clear()
        packed = self.allocate(sizes)
        before, after = _segment_cells(starts, used), _segment_cells(packed, used)
        self.entries.values[after] = entries.values[before]
        self.sources.values[after] = sources.values[before]
        return packed

    @property
    def nbytes(self) -> int:
        """Cells up to the highest ever written (the pages above are not mapped yet)."""
        free_lists = sum(stack.nbytes for stack in self._free)
        return CELL_BYTES * self._end + free_lists

    def _class_of(self, size: int) -> int:
        return int(np.searchsorted(self.sizes, size))

    def _bump(self, size: int, count: int) -> IdArray:
        """Starts of count new segments past the end."""
        starts = self._end + size * np.arange(count, dtype=np.int64)
        self._end += size * count
        self.entries.reserve(self._end)
        self.sources.reserve(self._end)
        return starts


class MemoryTimelineCache:
    """One row per timeline, holding a segment of the arena just big enough for its
    entries: its first min(written, size) cells.

    A push into a full segment first moves it to one of the next size; once the size is
    the capacity, the segment is a ring: a push writes at `written % capacity`, so
    overwriting the oldest write is the trim (ids are time-ordered, so that is the oldest
    entry). replace/merge/remove rewrite a segment in ascending order, so the ring's next
    overwrite again hits the oldest entry. A push of an entry a row already holds (fan-out
    delivers at least once) writes nothing: rows whose newest entry is below the pushed id,
    the usual case, need no scan.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # numpy fancy indexing is not atomic under threads: one lock for every access.
        self._lock = threading.Lock()
        self._index = _RowIndex()
        self._arena = _Arena(capacity)
        # Per row (one per timeline): its segment, and the writes into it since the last
        # rewrite (the ring's cursor once the segment's size is the capacity).
        self._start: IdArray = np.zeros(INITIAL_ROWS, np.int64)
        self._size: IdArray = np.zeros(INITIAL_ROWS, np.int64)
        self._written: IdArray = np.zeros(INITIAL_ROWS, np.int64)
        self._newest: IdArray = np.zeros(INITIAL_ROWS, np.int64)  # at least the newest entry
        self._free_rows: list[int] = []
        self._rows_used = 0

    def push(self, user_ids: UserIds, entry_id: int, source_id: int) -> int:
        users = id_array(user_ids)
        with self._lock:
            rows = self._index.lookup(users)
            rows = rows[~self._holds(rows, entry_id)]
            if entry_id != source_id:
                rows = rows[~self._shows(self._arena.sources, rows, source_id)]
            written, sizes = self._written[rows], self._size[rows]
            full = (written >= sizes) & (sizes < self.capacity)
            if full.any():
                self._grow(rows[full])
            # Below the capacity written < size; at it, the ring. One scalar modulo serves
            # both (numpy divides by a scalar several times faster than by an array).
            cells = self._start[rows] + written % self.capacity
            self._arena.entries.values[cells] = entry_id
            self._arena.sources.values[cells] = source_id
            self._written[rows] = written + 1
            self._newest[rows] = np.maximum(self._newest[rows], entry_id)
        return int(rows.size)

    def range(
        self, user_id: int, *, max_id: int | None = None, min_id: int | None = None, limit: int
    ) -> list[int] | None:
        with self._lock:
            row = self._index.get(user_id)
            if row is None:
                return None
            ids = self._arena.entries.values[self._cells_of(row)]
        if min_id is not None:
            ids = ids[ids > min_id]
        if max_id is not None:
            ids = ids[ids < max_id]
        newest: list[int] = _distinct(ids)[::-1][:limit].tolist()
        return newest

    def replace(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        pairs = _pairs(entries)
        with self._lock:
            row = self._index.get(user_id)
            if row is None:
                row = self._allocate_row()
                self._index.add(user_id, row)
            self._write_row(row, pairs)

    def merge(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        pairs = _pairs(entries)
        with self._lock:
            row = self._index.get(user_id)
            if row is not None:
                self._write_row(row, np.concatenate([self._pairs_of(row), pairs]))

    def remove(self, user_id: int, entry_ids: Sequence[int]) -> None:
        drop = id_array(entry_ids)
        with self._lock:
            row = self._index.get(user_id)
            if row is not None:
                pairs = self._pairs_of(row)
                self._write_row(row, pairs[~np.isin(pairs[:, 0], drop)])

    def delete(self, user_ids: UserIds) -> None:
        with self._lock:
            popped = (self._index.pop(user) for user in id_array(user_ids).tolist())
            rows = [row for row in popped if row is not None]
            nothing = np.zeros(len(rows), np.int64)
            self._resegment(np.array(rows, np.int64), nothing, nothing)
            self._written[rows] = 0
            self._free_rows += rows

    def exists(self, user_id: int) -> bool:
        with self._lock:
            return self._index.get(user_id) is not None

    def memory_bytes(self) -> int:
        """Everything held: arena, free lists, per-row arrays and the user -> row index."""
        with self._lock:
            rows = (
                self._start.nbytes + self._size.nbytes + self._written.nbytes + self._newest.nbytes
            )
            return self._arena.nbytes + int(rows) + self._index.nbytes()

    def close(self) -> None:
        """Nothing to release: the arrays go with the object."""

    def _used(self, rows: IdArray) -> IdArray:
        """How many cells of each row's segment hold entries."""
        used: IdArray = np.minimum(self._written[rows], self._size[rows])
        return used

    def _holds(self, rows: IdArray, entry_id: int) -> npt.NDArray[np.bool_]:
        """Which rows already hold the entry; only rows with an entry as new are scanned."""
        held = np.zeros(rows.size, dtype=bool)
        maybe = np.flatnonzero(self._newest[rows] >= entry_id)
        if maybe.size:
            held[maybe] = self._shows(self._arena.entries, rows[maybe], entry_id)
        return held

    def _shows(self, cells: _MappedArray, rows: IdArray, value: int) -> npt.NDArray[np.bool_]:
        """Which rows hold the value in these cells (entry ids, or source ids: the source
        itself or another repost of it)."""
        starts, used = self._start[rows], self._used(rows)
        shown = np.zeros(rows.size, dtype=bool)
        for size, of_size in self._arena.by_size(self._size[rows]):
            segments = sliding_window_view(cells.values, size)  # no copy
            # Blocks of segments small enough for the CPU cache.
            blocks = max(1, of_size.size * size // SCAN_BLOCK_CELLS)
            for block in np.array_split(of_size, blocks):
                hits = segments[starts[block]] == value
                if (used[block] < size).any():  # cells past the used ones hold leftovers
                    hits &= np.arange(size) < used[block, None]
                shown[block] = hits.any(axis=1)
        return shown

    def _grow(self, full: IdArray) -> None:
        """Moves full segments (below the capacity) into segments of the next size."""
        rows = _distinct(full)  # a user listed twice in one push
        sizes = self._size[rows]
        self._resegment(rows, self._arena.next_sizes(sizes), sizes)

    def _resegment(self, rows: IdArray, sizes: IdArray, kept: IdArray) -> None:
        """Gives rows new segments of these sizes, with their first `kept` cells."""
        starts = self._arena.allocate(sizes)
        self._arena.copy(self._start[rows], starts, kept)
        self._arena.release(self._start[rows], self._size[rows])
        self._start[rows], self._size[rows] = starts, sizes
        if self._arena.wasteful():
            self._compact()

    def _compact(self) -> None:
        rows = np.arange(self._rows_used)  # a free row has a segment of size 0
        self._start[rows] = self._arena.compact(
            self._start[rows], self._size[rows], self._used(rows)
        )

    def _cells_of(self, row: int) -> IdArray:
        start, used = int(self._start[row]), min(int(self._written[row]), int(self._size[row]))
        return np.arange(start, start + used)

    def _pairs_of(self, row: int) -> IdArray:
        cells = self._cells_of(row)
        return np.stack([self._arena.entries.values[cells], self._arena.sources.values[cells]], 1)

    def _write_row(self, row: int, pairs: IdArray) -> None:
        """Stores the newest `capacity` distinct entries, ascending, as the whole row."""
        entries, first = np.unique(pairs[:, 0], return_index=True)
        newest = slice(max(entries.size - self.capacity, 0), None)
        entries, sources = entries[newest], pairs[first[newest], 1]
        size = self._arena.fit(entries.size)
        if size != self._size[row]:
            none = np.zeros(1, np.int64)
            self._resegment(np.array([row]), np.array([size], np.int64), none)
        start = int(self._start[row])
        cells = np.arange(start, start + entries.size)
        self._arena.entries.values[cells] = entries
        self._arena.sources.values[cells] = sources
        self._written[row] = entries.size
        self._newest[row] = entries[-1] if entries.size else 0

    def _allocate_row(self) -> int:
        if self._free_rows:
            return self._free_rows.pop()
        if self._rows_used == self._written.size:
            rows = 2 * self._written.size
            self._start = _grown(self._start, rows)
            self._size = _grown(self._size, rows)
            self._written = _grown(self._written, rows)
            self._newest = _grown(self._newest, rows)
        self._rows_used += 1
        return self._rows_used - 1


def _size_classes(capacity: int) -> IdArray:
    """0, then SMALLEST_SEGMENT doubling while below the capacity, then the capacity."""
    sizes = [0]
    while SMALLEST_SEGMENT << (len(sizes) - 1) < capacity:
        sizes.append(SMALLEST_SEGMENT << (len(sizes) - 1))
    return np.array([*sizes, capacity], np.int64)


def _segment_cells(starts: IdArray, lengths: IdArray) -> IdArray:
    """The cells starts[i] .. starts[i] + lengths[i] - 1 of every segment, concatenated."""
    offsets = np.cumsum(lengths) - lengths  # where each segment begins in the result
    cells: IdArray = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return cells


def _anonymous_map(size: int) -> mmap.mmap:
    """size bytes of private memory, zeroed, mapped by the kernel on first touch."""
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    _small_pages(memory)
    return memory


def _small_pages(memory: mmap.mmap) -> None:
    """Asks for 4 KiB pages: a 2 MiB transparent huge page is zeroed all at once by the
    push that first touches it (~8 ms on the benchmark machine; Redis advises against
    transparent huge pages for the same latency)."""
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux only
        memory.madvise(mmap.MADV_NOHUGEPAGE)


def _resized(memory: mmap.mmap, size: int) -> mmap.mmap:
    """The map grown to size bytes: in place where the OS has mremap, else a copy."""
    try:
        memory.resize(size)
    except SystemError:  # no mremap (macOS)
        return _copied(memory, size)
    _small_pages(memory)  # for the pages just added
    return memory


def _copied(memory: mmap.mmap, size: int) -> mmap.mmap:
    bigger = _anonymous_map(size)
    bigger[: len(memory)] = memory
    return bigger


def _grown(array: IdArray, length: int) -> IdArray:
    grown = np.zeros(length, array.dtype)
    grown[: array.size] = array
    return grown


def _distinct(values: IdArray) -> IdArray:
    """Sorted distinct values (np.unique hashes first: several times slower here)."""
    ordered = np.sort(values)
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    distinct: IdArray = ordered[first]
    return distinct
