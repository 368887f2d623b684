"""In-process backends of the celebrity index, counters, idempotency keys, membership
sets, served entries and ranked lists, the default when no Redis is configured
(timelines: memory_timelines.py).
See docs/subsystems/cache.md.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from starling.cache.base import IdArray, UserIds, id_array

SWEEP_MIN_RECORDS = 1024  # idempotency records held before expired ones are swept


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
        ids = id_array(author_ids)
        with self._lock:
            flags = [author in self._celebrities for author in ids.tolist()]
        known: IdArray = ids[np.array(flags, dtype=bool)]
        return known

    def latest(self, author_ids: UserIds, per_author: int, max_id: int | None = None) -> IdArray:
        """Newest first across all the authors."""
        found: list[int] = []
        with self._lock:
            for author in id_array(author_ids).tolist():
                posts = self._posts.get(author, [])
                end = len(posts) if max_id is None else bisect.bisect_left(posts, max_id)
                found += posts[max(end - per_author, 0) : end]
        return np.sort(np.array(found, np.int64))[::-1]

    def close(self) -> None:
        """Nothing to release."""


class MemoryCounters:
    """`shards` dicts per counter name, each shard behind its own lock; an increment
    takes a random one, so concurrent increments of one hot key rarely wait for each
    other. A read intersects each shard's keys with those asked (in C), so it costs the
    keys found, not shards x keys asked."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self._locks = [threading.Lock() for _ in range(shards)]
        self._counts: list[defaultdict[str, dict[int, int]]] = [
            defaultdict(dict) for _ in range(shards)
        ]

    def incr(self, name: str, key: int, delta: int = 1) -> None:
        shard, key = random.randrange(self.shards), int(key)
        with self._locks[shard]:
            counts = self._counts[shard][name]
            counts[key] = counts.get(key, 0) + delta

    def get(self, name: str, keys: Sequence[int]) -> dict[int, int]:
        totals: dict[int, int] = {}
        wanted = set(id_array(keys).tolist())
        for lock, named in zip(self._locks, self._counts, strict=True):
            with lock:
                counts = named.get(name)
                if counts is None:
                    continue
                for key in counts.keys() & wanted:
                    totals[key] = totals.get(key, 0) + counts[key]
        return totals

    def seed(self, name: str, key: int, value: int) -> bool:
        key = int(key)
        with contextlib.ExitStack() as held:
            for lock in self._locks:  # all shards, in order: rare, and never deadlocks
                held.enter_context(lock)
            if any(key in named.get(name, ()) for named in self._counts):
                return False
            self._counts[0][name][key] = value
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


class MemoryServedEntries:
    """Per viewer: an expiry time and the explanations; expired viewers are swept
    whenever the dict doubles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._viewers: dict[int, tuple[float, dict[int, str]]] = {}
        self._sweep_at = SWEEP_MIN_RECORDS

    def record(self, viewer_id: int, explanations: Mapping[int, str], ttl_s: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            entries = self._live(viewer_id, now)
            entries.update({int(k): v for k, v in explanations.items()})
            self._viewers[viewer_id] = (now + ttl_s, entries)

    def served_among(self, viewer_id: int, entry_ids: UserIds) -> IdArray:
        with self._lock:
            entries = self._live(viewer_id, time.monotonic())
        ids = id_array(entry_ids)
        return ids[np.fromiter((i in entries for i in ids.tolist()), np.bool_, len(ids))]

    def explanation(self, viewer_id: int, entry_id: int) -> str | None:
        with self._lock:
            return self._live(viewer_id, time.monotonic()).get(entry_id)

    def close(self) -> None:
        """Nothing to release."""

    def _live(self, viewer_id: int, now: float) -> dict[int, str]:
        expires, entries = self._viewers.get(viewer_id, (now, {}))
        return entries if expires > now else {}

    def _sweep(self, now: float) -> None:
        if len(self._viewers) < self._sweep_at:
            return
        self._viewers = {v: rec for v, rec in self._viewers.items() if rec[0] > now}
        self._sweep_at = max(SWEEP_MIN_RECORDS, 2 * len(self._viewers))


class MemoryRankedLists:
    """Per viewer: the list, when it was ranked and its expiry time; expired lists are
    swept whenever the dict doubles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[int, tuple[str, int, float]] = {}
        self._sweep_at = SWEEP_MIN_RECORDS

    def put(self, viewer_id: int, ranked: str, ranked_at: int, ttl_s: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._lists) >= self._sweep_at:
                self._lists = {v: rec for v, rec in self._lists.items() if rec[2] > now}
                self._sweep_at = max(SWEEP_MIN_RECORDS, 2 * len(self._lists))
            self._lists[viewer_id] = (ranked, ranked_at, now + ttl_s)

    def get(self, viewer_id: int) -> tuple[str, int] | None:
        with self._lock:
            found = self._lists.get(viewer_id)
        if found is None or found[2] <= time.monotonic():
            return None
        return found[0], found[1]

    def drop(self, viewer_ids: UserIds) -> None:
        with self._lock:
            for viewer_id in id_array(viewer_ids).tolist():
                self._lists.pop(viewer_id, None)

    def close(self) -> None:
        """Nothing to release."""
