"""What one run of a pipeline did, step by step: for the caller, tests and explain.

Each step records its kind, id, time and the candidates it received and passed on; a
filter also records the post ids it removed; a dropped source records why. The trace
also sums the time of each phase (budgets.py), names the phases over their budget and
the ranking tier that ranked the candidates (ladder.py). See
docs/subsystems/mixer.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from starling.mixer.candidates import Ids


def _no_ids() -> Ids:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Step:
    kind: str  # gate, query, source, merge, hydrator, filter, post-filter, scorer, ...
    id: str
    seconds: float
    candidates_in: int
    candidates_out: int
    removed_ids: Ids = field(default_factory=_no_ids)
    error: str | None = None  # a dropped source: "timeout" or the exception
    skipped: bool = False  # a batch component is not called on an empty batch

    @property
    def removed(self) -> int:
        return self.candidates_in - self.candidates_out


@dataclass
class Trace:
    product: str
    steps: list[Step] = field(default_factory=list)
    gated_by: str | None = None  # the gate that stopped the request, if one did
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    over_budget: list[str] = field(default_factory=list)  # phases over their budget
    ranking: str | None = None  # the ladder's tier that ranked, when there is a ladder
    late: bool = False  # the whole budget was spent before ranking started

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def of_kind(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]

    def dropped_sources(self) -> list[Step]:
        return [s for s in self.of_kind("source") if s.error is not None]

    def counts(self) -> dict[str, int]:
        """Candidates passed on by each step, by step id, in step order."""
        return {s.id: s.candidates_out for s in self.steps}
