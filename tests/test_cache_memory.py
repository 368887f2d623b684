"""In-process timeline cache internals the conformance suite does not reach: memory that
follows the entries held, row and segment reuse, compaction, slabs, and the vectorised
user -> row index, under many interleaved changes."""

from __future__ import annotations

import random

import numpy as np
import pytest

from starling.cache import memory_timelines as memory
from starling.cache.memory_timelines import INITIAL_ROWS, SMALLEST_SEGMENT, MemoryTimelineCache

FIRST_USER = 10**15
CELL_BYTES = 16  # an entry id and a source id
OLD_ROW_BYTES = 800 * CELL_BYTES + 8  # a whole row per timeline, before segments


def users_from(first: int, count: int) -> list[int]:
    return list(range(first, first + count))


def test_rows_grow_past_the_initial_allocation() -> None:
    timelines = MemoryTimelineCache(capacity=4)
    users = np.arange(FIRST_USER, FIRST_USER + 3 * INITIAL_ROWS, dtype=np.int64)
    for user in users.tolist():
        timelines.replace(user, [(user, user)])

    assert timelines.push(users, 2 * FIRST_USER, 2 * FIRST_USER) == users.size
    last = int(users[-1])
    assert timelines.range(last, limit=5) == [2 * FIRST_USER, last]


def test_memory_follows_the_entries_not_the_capacity() -> None:
    timelines = MemoryTimelineCache(capacity=800)
    for user in users_from(FIRST_USER, 10_000):
        timelines.replace(user, [(1, 1), (2, 2), (3, 3)])

    # A segment of 8 cells (128 bytes), plus the row's counters and its index entry.
    assert timelines.memory_bytes() / 10_000 < 400 < OLD_ROW_BYTES / 30


def test_full_timelines_cost_their_capacity_once_compacted() -> None:
    """Growing to 800 leaves the segments of 8 to 512 behind (1,016 cells, more than
    the 800 in use): they are packed away."""
    timelines = MemoryTimelineCache(capacity=800)
    users = users_from(FIRST_USER, 100)
    for user in users:
        timelines.replace(user, [])
    for n in range(1, 1001):
        timelines.push(users, n, n)

    assert timelines.range(users[-1], limit=2) == [1000, 999]
    assert len(timelines.range(users[0], limit=1000) or []) == 800
    assert 800 * CELL_BYTES < timelines.memory_bytes() / 100 < 1.1 * 800 * CELL_BYTES


def test_churn_of_timelines_holds_steady_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleted timelines give their rows and segments to new ones (no compaction needed)."""
    monkeypatch.setattr(memory, "COMPACT_MIN_CELLS", 10**9)
    timelines = MemoryTimelineCache(capacity=800)
    entries = [(n, n) for n in range(1, SMALLEST_SEGMENT + 1)]
    for user in users_from(FIRST_USER, 1_000):
        timelines.replace(user, entries)
    first = FIRST_USER
    for _ in range(20):
        timelines.delete(users_from(first, 500))
        first += 1_000
        for user in users_from(first, 500):
            timelines.replace(user, entries)
        if first == FIRST_USER + 1_000:
            steady = timelines.memory_bytes()

    fresh_cells_of_one_round = 500 * SMALLEST_SEGMENT * CELL_BYTES
    assert timelines.memory_bytes() < steady + fresh_cells_of_one_round
    assert timelines.range(first + 499, limit=3) == [8, 7, 6]
    assert timelines.range(first - 1, limit=3) is None


def test_deleting_most_timelines_gives_memory_back() -> None:
    timelines = MemoryTimelineCache(capacity=800)
    users = users_from(FIRST_USER, 2_000)
    for user in users:
        timelines.replace(user, [(n, n) for n in range(1, 101)])
    full = timelines.memory_bytes()
    timelines.delete(users[100:])

    assert timelines.memory_bytes() < full / 5
    assert timelines.range(users[99], limit=2) == [100, 99]
    assert timelines.push(users[:200], 101, 101) == 100
    assert timelines.range(users[0], limit=2) == [101, 100]


def test_a_user_twice_in_one_push_gets_the_entry_once() -> None:
    timelines = MemoryTimelineCache(capacity=800)
    timelines.replace(1, [(n, n) for n in range(1, SMALLEST_SEGMENT + 1)])  # a full segment

    assert timelines.push([1, 1], 100, 100) == 2
    assert timelines.range(1, limit=3) == [100, 8, 7]


Model = dict[int, dict[int, int]]  # user -> entry id -> source id


def trimmed(timeline: dict[int, int], capacity: int) -> dict[int, int]:
    return {entry: timeline[entry] for entry in sorted(timeline)[-capacity:]}


def model_push(model: Model, chunk: list[int], entry: int, source: int, capacity: int) -> int:
    """What push returns and does: a repost skips timelines already showing its source."""
    written = [
        user
        for user in chunk
        if user in model and (entry == source or source not in model[user].values())
    ]
    for user in set(written):
        model[user] = trimmed({**model[user], entry: source}, capacity)
    return len(written)


@pytest.mark.parametrize("maps_grow", ["in place", "by copy"])
def test_timelines_match_a_model_under_interleaved_changes(
    maps_grow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random replace/merge/remove/delete/push (originals and reposts, users listed twice)
    against a dict per user: covers growing and shrinking segments, rings, compaction,
    growing maps (in place with mremap, or copied where there is none), and pending,
    revived and stale index entries."""
    monkeypatch.setattr(memory, "INITIAL_CELLS", 64)
    monkeypatch.setattr(memory, "COMPACT_MIN_CELLS", 0)
    if maps_grow == "by copy":
        monkeypatch.setattr(memory, "_resized", memory._copied)
    rng = random.Random(7)
    capacity = 20  # segments of 0, 8, 16 and 20 cells
    timelines = MemoryTimelineCache(capacity)
    model: Model = {}
    universe = [FIRST_USER + 37 * i for i in range(300)]
    sources = list(range(1, 40))  # few, so that reposts often meet their source
    memory_fell = False

    def pairs(count: int, newest: int) -> list[tuple[int, int]]:
        ids = rng.sample(range(1, newest), count)
        return [(i, i if rng.random() < 0.7 else rng.choice(sources)) for i in ids]

    for step in range(1, 2001):
        newest, before = 1_000 + step, timelines.memory_bytes()
        action, user = rng.random(), rng.choice(universe)
        if action < 0.15:
            entries = pairs(rng.randint(0, 30), newest)
            timelines.replace(user, entries)
            model[user] = trimmed(dict(reversed(entries)), capacity)  # first one wins
        elif action < 0.25:
            entries = pairs(rng.randint(1, 12), newest)
            timelines.merge(user, entries)
            if user in model:
                model[user] = trimmed({**dict(reversed(entries)), **model[user]}, capacity)
        elif action < 0.32:
            gone = [*rng.sample(sorted(model.get(user) or {1: 1}), 1), newest]
            timelines.remove(user, gone)
            if user in model:
                model[user] = {e: s for e, s in model[user].items() if e not in gone}
        elif action < 0.4:
            gone_users = rng.sample(universe, rng.randint(1, 40))
            timelines.delete(gone_users)
            for gone_user in gone_users:
                model.pop(gone_user, None)
        else:
            chunk = rng.sample(universe, 50)
            chunk += chunk[: rng.randint(0, 2)]
            source = newest if rng.random() < 0.7 else rng.choice(sources)
            expected = model_push(model, chunk, newest, source, capacity)
            assert timelines.push(chunk, newest, source) == expected
        memory_fell = memory_fell or timelines.memory_bytes() < before
    for user in universe:
        want = sorted(model[user], reverse=True) if user in model else None
        assert timelines.range(user, limit=capacity + 1) == want
    assert memory_fell, "compaction ran"
