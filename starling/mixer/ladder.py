"""The ranking ladder (seed: Bottleneck 1, "graceful degradation"): rungs of scorers,
heaviest first, each with the cost it may take. At the ranking step the runner takes the
first rung whose recent cost (p95 of its last runs) is within its own budget and still
fits before the ranking phase's deadline; when none does, the built-in last rung ranks
newest first, which costs nothing. The product serves its stale page list past that.

The choice is made before a rung starts, from what it cost lately, rather than by
running it on a worker thread and abandoning it at a deadline: Python cannot stop a
running numpy computation, so an abandoned scorer keeps a core (of two here) and
slows the fallback meant to replace it. The price is that an unexpectedly slow run is
not cut short: that one request is late, and its cost steers the next ones to a lighter
rung. A rung skipped for its cost is tried again once its slow runs leave the cost
window (latency.py). See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic

import numpy as np

from starling.mixer.candidates import Candidates, Scores
from starling.mixer.components import Q, Scorer
from starling.mixer.latency import Clock, RecentLatency
from starling.mixer.query import Query

CHRONOLOGICAL = "chronological"


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Rung(Generic[Q]):
    """A ranking tier: its name in responses and metrics (heavy, light, heuristic), the
    scorers it runs in order (a later one reads the earlier one's score) and its budget.
    A rung with no scorers (a ranker not wired in) is left out of the ladder; one that is
    not `ready` (its model not trained yet, and loaded while serving) is passed over."""

    tier: str
    scorers: Sequence[Scorer[Q]]
    budget_s: float = float("inf")
    ready: Callable[[], bool] = _always


class NewestFirst(Scorer[Query]):
    """The last rung: the creation time as the score."""

    id = "newest-first"

    def score(self, query: Query, candidates: Candidates) -> Scores:
        scores: Scores = candidates.created_at.astype(np.float64)
        return scores


class Ladder(Generic[Q]):
    def __init__(self, rungs: Sequence[Rung[Q]], clock: Clock) -> None:
        last: Rung[Q] = Rung(CHRONOLOGICAL, [NewestFirst()])
        self.rungs = [*(r for r in rungs if r.scorers), last]
        self._costs = {r.tier: RecentLatency(clock=clock) for r in self.rungs}
        if len(self._costs) < len(self.rungs):
            raise ValueError(f"ranking tiers named twice: {[r.tier for r in self.rungs]}")

    def choose(self, elapsed_s: float, deadline_s: float) -> Rung[Q]:
        """The heaviest rung that fits: its recent cost within its budget and within the
        time left before `deadline_s` (both counted from the start of the run)."""
        for rung in self.rungs[:-1]:
            cost = self._costs[rung.tier].p95()
            if cost <= rung.budget_s and elapsed_s + cost <= deadline_s and rung.ready():
                return rung
        return self.rungs[-1]

    def observe(self, rung: Rung[Q], seconds: float) -> None:
        self._costs[rung.tier].observe(seconds)

    def scorer_of(self, tier: str) -> str | None:
        """The id of a tier's last scorer: the one that gave its final score."""
        return next((r.scorers[-1].id for r in self.rungs if r.tier == tier), None)
