"""In-process timeline cache internals the conformance suite does not reach: row growth,
row reuse and the vectorised user -> row index under many interleaved changes."""

from __future__ import annotations

import random

import numpy as np

from starling.cache.memory import INITIAL_ROWS, MemoryTimelineCache

FIRST_USER = 10**15


def test_rows_grow_past_the_initial_allocation() -> None:
    timelines = MemoryTimelineCache(capacity=4)
    users = np.arange(FIRST_USER, FIRST_USER + 3 * INITIAL_ROWS, dtype=np.int64)
    for user in users.tolist():
        timelines.replace(user, [(user, user)])

    assert timelines.push(users, 2 * FIRST_USER, 2 * FIRST_USER) == users.size
    last = int(users[-1])
    assert timelines.range(last, limit=5) == [2 * FIRST_USER, last]


def test_deleted_rows_are_reused_without_their_entries() -> None:
    timelines = MemoryTimelineCache(capacity=4)
    for user in range(1, 11):
        timelines.replace(user, [(100 + user, 100 + user)])
    before = timelines.memory_bytes()
    timelines.delete(range(1, 6))
    for user in range(11, 16):
        timelines.replace(user, [])

    assert timelines.memory_bytes() == before
    assert [timelines.range(user, limit=5) for user in (11, 15)] == [[], []]
    assert timelines.push(list(range(1, 16)), 500, 500) == 10


def test_index_matches_a_model_under_interleaved_changes() -> None:
    """Random replace/delete/push against a dict of lists, covering pending, revived and
    stale index entries."""
    rng = random.Random(7)
    capacity = 3
    timelines = MemoryTimelineCache(capacity)
    model: dict[int, list[int]] = {}
    universe = [FIRST_USER + 37 * i for i in range(300)]
    for step in range(1, 2001):
        action = rng.random()
        if action < 0.3:
            user = rng.choice(universe)
            timelines.replace(user, [])
            model[user] = []
        elif action < 0.45:
            gone = rng.sample(universe, rng.randint(1, 40))
            timelines.delete(gone)
            for user in gone:
                model.pop(user, None)
        else:
            chunk = rng.sample(universe, 50)
            expected = [user for user in chunk if user in model]
            assert timelines.push(chunk, step, step) == len(expected)
            for user in expected:
                model[user] = sorted([*model[user], step])[-capacity:]
    for user in universe:
        want = sorted(model[user], reverse=True) if user in model else None
        assert timelines.range(user, limit=10) == want
