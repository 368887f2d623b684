"""In-process backends of the cache roles, the default when no Redis is configured.

Home timelines are columnar numpy ring buffers, so that one post reaches thousands of
timelines in a few vectorised operations. See docs/subsystems/cache.md.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import threading
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from starling.cache.base import IdArray, UserIds

EMPTY = 0  # ids are positive, so 0 marks an unused cell
INITIAL_ROWS = 1024
SCAN_BLOCK_ROWS = 128
SWEEP_MIN_RECORDS = 1024


def _ids(values: UserIds) -> IdArray:
    return np.asarray(values, dtype=np.int64)


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


class MemoryTimelineCache:
    """One row per user in 2-D arrays of entry ids and source ids.

    A push writes at `written % capacity`, so overwriting the oldest write is the trim
    (ids are time-ordered, so that is the oldest entry). replace/merge/remove rewrite a
    row in ascending order, so the ring's next overwrite again hits the oldest entry.
    A retried push can leave a duplicate cell; range() reports each id once.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # numpy fancy indexing is not atomic under threads: one lock for every access.
        self._lock = threading.Lock()
        self._index = _RowIndex()
        self._entries: IdArray = np.zeros((INITIAL_ROWS, capacity), np.int64)
        self._sources: IdArray = np.zeros((INITIAL_ROWS, capacity), np.int64)
        self._written: IdArray = np.zeros(INITIAL_ROWS, np.int64)
        self._free: list[int] = []
        self._rows_used = 0

    def push(self, user_ids: UserIds, entry_id: int, source_id: int) -> int:
        users = _ids(user_ids)
        with self._lock:
            rows = self._index.lookup(users)
            if entry_id != source_id:
                rows = rows[~self._shows(rows, source_id)]
            # Flat cell numbers: one index computation serves both arrays.
            cells = rows * self.capacity + self._written[rows] % self.capacity
            self._entries.reshape(-1)[cells] = entry_id
            self._sources.reshape(-1)[cells] = source_id
            self._written[rows] += 1
        return int(rows.size)

    def range(
        self, user_id: int, *, max_id: int | None = None, min_id: int | None = None, limit: int
    ) -> list[int] | None:
        with self._lock:
            row = self._index.get(user_id)
            if row is None:
                return None
            ids = self._entries[row].copy()
        ids = ids[ids > (EMPTY if min_id is None else max(min_id, EMPTY))]
        if max_id is not None:
            ids = ids[ids < max_id]
        newest: list[int] = np.unique(ids)[::-1][:limit].tolist()
        return newest

    def replace(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        pairs = _pairs(entries)
        with self._lock:
            row = self._index.get(user_id)
            if row is None:
                row = self._allocate()
                self._index.add(user_id, row)
            self._write_row(row, pairs)

    def merge(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        pairs = _pairs(entries)
        with self._lock:
            row = self._index.get(user_id)
            if row is not None:
                self._write_row(row, np.concatenate([self._pairs_of(row), pairs]))

    def remove(self, user_id: int, entry_ids: Sequence[int]) -> None:
        drop = _ids(entry_ids)
        with self._lock:
            row = self._index.get(user_id)
            if row is not None:
                pairs = self._pairs_of(row)
                self._write_row(row, pairs[~np.isin(pairs[:, 0], drop)])

    def delete(self, user_ids: UserIds) -> None:
        with self._lock:
            for user in _ids(user_ids).tolist():
                row = self._index.pop(user)
                if row is not None:
                    self._free.append(row)

    def exists(self, user_id: int) -> bool:
        with self._lock:
            return self._index.get(user_id) is not None

    def memory_bytes(self) -> int:
        with self._lock:
            per_row = self._entries[0].nbytes + self._sources[0].nbytes + self._written.itemsize
            return len(self._index) * int(per_row)

    def close(self) -> None:
        """Nothing to release: the arrays go with the object."""

    def _shows(self, rows: IdArray, source_id: int) -> npt.NDArray[np.bool_]:
        """Which rows hold the source itself, or another repost of it (same source id)."""
        shown = np.empty(rows.size, dtype=bool)
        # Blocks of rows small enough for the CPU cache: about twice as fast as one gather.
        for start in range(0, rows.size, SCAN_BLOCK_ROWS):
            block = rows[start : start + SCAN_BLOCK_ROWS]
            shown[start : start + block.size] = (self._sources[block] == source_id).any(axis=1)
        return shown

    def _pairs_of(self, row: int) -> IdArray:
        used = self._entries[row] != EMPTY
        return np.stack([self._entries[row, used], self._sources[row, used]], axis=1)

    def _write_row(self, row: int, pairs: IdArray) -> None:
        """Stores the newest `capacity` distinct entries, ascending, as the whole row."""
        entries, first = np.unique(pairs[:, 0], return_index=True)
        newest = slice(max(entries.size - self.capacity, 0), None)
        entries, sources = entries[newest], pairs[first[newest], 1]
        self._entries[row] = EMPTY
        self._sources[row] = EMPTY
        self._entries[row, : entries.size] = entries
        self._sources[row, : entries.size] = sources
        self._written[row] = entries.size

    def _allocate(self) -> int:
        if self._free:
            return self._free.pop()
        if self._rows_used == self._written.size:
            self._grow()
        self._rows_used += 1
        return self._rows_used - 1

    def _grow(self) -> None:
        rows = 2 * self._written.size
        self._entries = _with_rows(self._entries, rows)
        self._sources = _with_rows(self._sources, rows)
        self._written = _with_rows(self._written, rows)


def _with_rows(array: IdArray, rows: int) -> IdArray:
    grown = np.zeros((rows, *array.shape[1:]), array.dtype)
    grown[: array.shape[0]] = array
    return grown


class MemoryCelebrityIndex:
    """Per-author ascending lists of the newest `kept` post ids."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._lock = threading.Lock()
        self._posts: dict[int, list[int]] = {}
        self._celebrities: set[int] = set()

    def add(self, author_id: int, post_id: int) -> None:
        author_id, post_id = int(author_id), int(post_id)
        with self._lock:
            posts = self._posts.setdefault(author_id, [])
            at = bisect.bisect_left(posts, post_id)
            if at == len(posts) or posts[at] != post_id:
                posts.insert(at, post_id)
            del posts[: -self.kept]
            self._celebrities.add(author_id)

    def remove(self, author_id: int, post_id: int) -> None:
        with self._lock:
            posts = self._posts.get(author_id, [])
            if post_id in posts:
                posts.remove(post_id)

    def celebrities_among(self, author_ids: UserIds) -> IdArray:
        ids = _ids(author_ids)
        with self._lock:
            flags = [author in self._celebrities for author in ids.tolist()]
        known: IdArray = ids[np.array(flags, dtype=bool)]
        return known

    def latest(self, author_ids: UserIds, per_author: int, max_id: int | None = None) -> IdArray:
        """Newest first across all the authors."""
        found: list[int] = []
        with self._lock:
            for author in _ids(author_ids).tolist():
                posts = self._posts.get(author, [])
                end = len(posts) if max_id is None else bisect.bisect_left(posts, max_id)
                found += posts[max(end - per_author, 0) : end]
        return np.sort(np.array(found, np.int64))[::-1]

    def close(self) -> None:
        """Nothing to release."""


class MemoryCounters:
    """`shards` dicts, each behind its own lock; an increment takes a random one, so
    concurrent increments of one hot key rarely wait for each other."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self._locks = [threading.Lock() for _ in range(shards)]
        self._counts: list[dict[tuple[str, int], int]] = [{} for _ in range(shards)]

    def incr(self, name: str, key: int, delta: int = 1) -> None:
        shard, key = random.randrange(self.shards), int(key)
        with self._locks[shard]:
            counts = self._counts[shard]
            counts[name, key] = counts.get((name, key), 0) + delta

    def get(self, name: str, keys: Sequence[int]) -> dict[int, int]:
        totals: dict[int, int] = {}
        wanted: list[int] = _ids(keys).tolist()
        for lock, counts in zip(self._locks, self._counts, strict=True):
            with lock:
                for key in wanted:
                    if (name, key) in counts:
                        totals[key] = totals.get(key, 0) + counts[name, key]
        return totals

    def seed(self, name: str, key: int, value: int) -> bool:
        key = int(key)
        with contextlib.ExitStack() as held:
            for lock in self._locks:  # all shards, in order: rare, and never deadlocks
                held.enter_context(lock)
            if any((name, key) in counts for counts in self._counts):
                return False
            self._counts[0][name, key] = value
            return True

    def close(self) -> None:
        """Nothing to release."""


class MemoryIdempotencyKeys:
    """Records with an expiry time; expired ones are swept whenever the dict doubles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, tuple[str, float]] = {}
        self._sweep_at = SWEEP_MIN_RECORDS

    def reserve(self, key: str, ttl_s: int) -> str | None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            record = self._records.get(key)
            if record is not None and record[1] > now:
                return record[0]
            self._records[key] = ("", now + ttl_s)
            return None

    def complete(self, key: str, response: str, ttl_s: int) -> None:
        with self._lock:
            self._records[key] = (response, time.monotonic() + ttl_s)

    def release(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def close(self) -> None:
        """Nothing to release."""

    def _sweep(self, now: float) -> None:
        if len(self._records) < self._sweep_at:
            return
        self._records = {k: rec for k, rec in self._records.items() if rec[1] > now}
        self._sweep_at = max(SWEEP_MIN_RECORDS, 2 * len(self._records))


class MemoryMembershipSets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, set[int]] = {}

    def add(self, name: str, member: int) -> bool:
        member = int(member)
        with self._lock:
            members = self._sets.setdefault(name, set())
            if member in members:
                return False
            members.add(member)
            return True

    def discard(self, name: str, member: int) -> None:
        with self._lock:
            members = self._sets.get(name)
            if members is not None:
                members.discard(member)
                if not members:
                    del self._sets[name]

    def close(self) -> None:
        """Nothing to release."""
