"""Viewer-author affinity from the real graph: how much a viewer engaged with each of a
batch of authors (a ranking feature). See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

import numpy as np

from starling.engagements import IdArray
from starling.realgraph.arrays import lookup
from starling.realgraph.graph import RealGraph
from starling.realgraph.weights import DEFAULT, Floats, Weights


def affinity(graph: RealGraph, viewer: int, authors: IdArray, weights: Weights = DEFAULT) -> Floats:
    """For each author (any order, repeats allowed), the viewer's live engagements with
    their posts within the graph's window, each weighted by its kind; 0 when none."""
    own = graph.snapshot().edges_of(np.array([viewer], dtype=np.int64))
    engaged, which = np.unique(own.author, return_inverse=True)
    totals = np.bincount(which, weights=weights.of_kinds(own.kind), minlength=engaged.size)
    at, found = lookup(engaged, np.asarray(authors, dtype=np.int64))
    return np.where(found, totals[at], 0.0) if engaged.size else np.zeros(len(authors))
