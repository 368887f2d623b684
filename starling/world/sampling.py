"""Weighted sampling by inverse CDF, the one primitive the graph, posts and likes share.

See docs/subsystems/world.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from starling.world.stamps import Ints


def weighted_draws(rng: np.random.Generator, weights: npt.NDArray[np.floating], k: int) -> Ints:
    """`k` row indices drawn with replacement, each with chance proportional to its weight."""
    cdf = np.cumsum(weights, dtype=np.float64)
    picks = np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right")
    rows: Ints = np.minimum(picks, weights.size - 1).astype(np.int64)
    return rows


def split_by_interest(
    rng: np.random.Generator, totals: Ints, interests: npt.NDArray[np.float32]
) -> Ints:
    """Splits each row's total over communities in proportion to its interests (rows x C)."""
    p = interests.astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)
    return rng.multinomial(totals, p).astype(np.int64)


def unique_pairs(a: Ints, b: Ints, n_b: int) -> tuple[Ints, Ints]:
    """Distinct (a, b) pairs sorted by a then b. Sorts a combined key: faster than np.unique."""
    keys = a * n_b + b
    keys.sort()
    keep = np.ones(keys.size, dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    first, second = np.divmod(keys[keep], n_b)
    return first, second
