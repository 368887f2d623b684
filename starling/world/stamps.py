"""Timestamps and ids for whole columns at once.

See docs/subsystems/world.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from starling.ids import SEQUENCE_BITS

Ints = npt.NDArray[np.int64]


def snowflakes(ms: Ints) -> Ints:
    """`starling.ids.id_at(ms, seq)` for a sorted column, seq counting within each ms."""
    if ms.size and np.any(np.diff(ms) < 0):
        raise ValueError("timestamps must be sorted")
    index = np.arange(ms.size, dtype=np.int64)
    starts = np.ones(ms.size, dtype=bool)
    starts[1:] = ms[1:] != ms[:-1]
    first = np.maximum.accumulate(np.where(starts, index, 0))
    sequence = index - first
    if sequence.size and sequence.max() >= 1 << SEQUENCE_BITS:
        raise ValueError("more ids in one millisecond than the sequence holds")
    return (ms << SEQUENCE_BITS) | sequence


def uniform_between(rng: np.random.Generator, low: Ints, high: Ints) -> Ints:
    """One timestamp per row, uniform in [low, high] (inclusive)."""
    span = np.maximum(high - low, 0)
    offset: Ints = (rng.random(low.size) * (span + 1)).astype(np.int64).clip(max=span)
    return low + offset
