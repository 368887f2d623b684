"""Interfaces of the cache roles. Each has an in-process backend (memory.py) and a Redis
backend (redis.py); both pass tests/test_cache_conformance.py.

Entries of a home timeline are post ids (the repost's own id for a repost); each entry
also carries its source id (the original post) so that repost deduplication needs no
store lookup. See docs/subsystems/cache.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]
UserIds = Sequence[int] | IdArray


def id_array(values: UserIds) -> IdArray:
    return np.asarray(values, dtype=np.int64)


class TimelineCache(Protocol):
    """`timeline:{user}`: newest `capacity` entry ids per user, trimmed on every push."""

    capacity: int

    def push(self, user_ids: UserIds, entry_id: int, source_id: int) -> int:
        """Adds one entry to the timelines of many users in one round trip.

        Only timelines that exist are written (missing ones are rebuilt on read). A
        repost (entry_id != source_id) is skipped for a user whose timeline already
        holds the source or another repost of it. Returns how many timelines were written.
        """

    def range(
        self, user_id: int, *, max_id: int | None = None, min_id: int | None = None, limit: int
    ) -> list[int] | None:
        """Entry ids in (min_id, max_id), newest first, at most limit; None if missing."""

    def replace(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        """Sets a whole timeline from (entry_id, source_id) pairs; creates it even if empty."""

    def merge(self, user_id: int, entries: Sequence[tuple[int, int]]) -> None:
        """Adds (entry_id, source_id) pairs to an existing timeline, keeping the newest."""

    def remove(self, user_id: int, entry_ids: Sequence[int]) -> None:
        """Drops entries from one timeline (unfollow)."""

    def delete(self, user_ids: UserIds) -> None:
        """Drops whole timelines; the next read rebuilds them."""

    def exists(self, user_id: int) -> bool: ...

    def memory_bytes(self) -> int:
        """Bytes held for timelines (for benchmarks)."""

    def close(self) -> None: ...


class CelebrityIndex(Protocol):
    """`celebrity:{author}:tweets`: latest posts of authors whose posts are pulled."""

    def add(self, author_id: int, post_id: int) -> None:
        """Indexes a post and marks its author as pulled from now on."""

    def remove(self, author_id: int, post_id: int) -> None: ...

    def celebrities_among(self, author_ids: UserIds) -> IdArray:
        """Which of these authors have a celebrity index."""

    def latest(self, author_ids: UserIds, per_author: int, max_id: int | None = None) -> IdArray:
        """Up to per_author newest post ids (below max_id) of each author, in one round trip."""

    def close(self) -> None: ...


class Counters(Protocol):
    """Sharded counters (seed: Race Condition 1): increments spread over shards so hot
    keys do not contend; reads sum the shards."""

    def incr(self, name: str, key: int, delta: int = 1) -> None: ...

    def get(self, name: str, keys: Sequence[int]) -> dict[int, int]:
        """Totals for keys that have a counter; keys never counted are absent."""

    def seed(self, name: str, key: int, value: int) -> bool:
        """Starts a counter at value, atomically, unless it exists; True when it did.
        A cold counter (after a restart, or for a post loaded in bulk) starts from the
        store's exact total instead of from the first increment."""

    def close(self) -> None: ...


class IdempotencyKeys(Protocol):
    """Idempotency-Key records (seed: Race Condition 3)."""

    def reserve(self, key: str, ttl_s: int) -> str | None:
        """Atomically claims key. None: claimed, go ahead. "": another request holds it
        and has not finished. Anything else: the stored response of the finished one."""

    def complete(self, key: str, response: str, ttl_s: int) -> None: ...

    def release(self, key: str) -> None:
        """Frees a claim whose request failed, so a retry can run."""

    def close(self) -> None: ...


class MembershipSets(Protocol):
    """Sets with an atomic add (seed: Race Condition 4, `user_retweets:{user}`)."""

    def add(self, name: str, member: int) -> bool:
        """True when the member was added, False when it was already there."""

    def discard(self, name: str, member: int) -> None: ...

    def close(self) -> None: ...


class ServedEntries(Protocol):
    """`served:{viewer}`: the entries a ranked timeline served a viewer, each with why it
    was served (an explanation, opaque here), kept for `ttl_s` after the latest serve.
    The same role under `seen:{viewer}` keeps the entries the viewer reports as seen."""

    def record(self, viewer_id: int, explanations: Mapping[int, str], ttl_s: int) -> None:
        """Adds served entries (entry id -> explanation) and restarts the expiry."""

    def served_among(self, viewer_id: int, entry_ids: UserIds) -> IdArray:
        """Which of these entries were served to the viewer, in one round trip."""

    def explanation(self, viewer_id: int, entry_id: int) -> str | None:
        """Why an entry was served to the viewer; None when it was not (or has expired)."""

    def close(self) -> None: ...


class RankedLists(Protocol):
    """`ranked:{viewer}`: a ranked timeline's scored candidate list for a viewer (opaque
    here) and when it was ranked (ms since the epoch), kept for `ttl_s`: the reader
    decides how long it is fresh, and serves it stale past that when nothing better is
    at hand."""

    def put(self, viewer_id: int, ranked: str, ranked_at: int, ttl_s: int) -> None:
        """Replaces the viewer's list, in one round trip."""

    def get(self, viewer_id: int) -> tuple[str, int] | None:
        """The viewer's list and when it was ranked; None when there is none."""

    def drop(self, viewer_ids: UserIds) -> None:
        """Forgets the lists of these viewers (their follows or blocks changed)."""

    def close(self) -> None: ...


class Budgets(Protocol):
    """`budget:{key}`: what each budget (an ad campaign's) has spent, in integer units.
    A charge is all or nothing: it is refused when it would take the total past its limit.
    The totals are derived from the store's: a key the cache does not hold (never seeded,
    or lost with a restart) is never charged from zero, it is seeded first."""

    def charge(self, charges: Sequence[tuple[int, int, int]]) -> list[bool | None]:
        """(key, amount, limit) each: adds amount to key's total unless that would pass
        limit, atomically per key; whether each was charged, in order, None for a key
        without a total (nothing charged: seed it, then charge again)."""

    def seed(self, totals: Mapping[int, int]) -> None:
        """Sets each key's total unless it already has one (so seeding twice, or after a
        concurrent charge, never counts anything twice)."""

    def spent(self, keys: Sequence[int]) -> dict[int, int]:
        """Totals of these keys, in one round trip; keys without a total are absent."""

    def close(self) -> None: ...
