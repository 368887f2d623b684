"""Column helpers of the real graph: runs of a sorted column (CSR rows) and positions of
many slices at once, so no query loops over edges in Python.
See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from starling.engagements import IdArray

Positions = npt.NDArray[np.int64]


def runs(sorted_ids: IdArray) -> tuple[IdArray, Positions]:
    """The distinct ids of a sorted column and where each one's run starts, plus the end:
    the run of ids[i] is bounds[i]:bounds[i + 1]."""
    if sorted_ids.size == 0:
        return sorted_ids, np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.diff(sorted_ids)) + 1
    bounds = np.concatenate([[0], starts, [sorted_ids.size]]).astype(np.int64)
    return sorted_ids[bounds[:-1]], bounds


def ranges(starts: Positions, ends: Positions) -> Positions:
    """Every position of start:end, for each pair, concatenated."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def lookup(ids: IdArray, wanted: IdArray) -> tuple[Positions, npt.NDArray[np.bool_]]:
    """For each wanted id, its position in the sorted `ids` and whether it is there (the
    position of an absent id is 0)."""
    at = np.searchsorted(ids, wanted)
    found = at < ids.size
    found[found] = ids[at[found]] == wanted[found]
    return np.where(found, at, 0), found
