"""Held-out quality of the heavy ranker's predictions: log loss and AUC per action.
See docs/subsystems/heavy_ranker.md#training.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

Floats = npt.NDArray[np.float32] | npt.NDArray[np.float64]
Labels = npt.NDArray[np.int8]


def log_loss(probabilities: Floats, labels: Labels) -> float:
    """Mean binary cross-entropy over every row and action."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    y = labels.astype(np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def auc(scores: Floats, labels: Labels) -> float:
    """The chance that a random positive row scores above a random negative one (ties
    count half); 0.5 for a constant score. NaN when a class is absent."""
    positive = labels.astype(np.bool_)
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(scores)
    return float(
        (ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )
