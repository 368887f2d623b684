"""Per-phase latency budgets of a product's pipeline (seed: Bottleneck 1, "latency budget
breakdown"). The runner groups its steps into phases, times each phase, and records the
ones over budget in the trace and in Prometheus; the ranking ladder (ladder.py) decides
from the time left before the ranking phase's deadline, and each candidate source's
quality factor (quality.py) aims at its own latency target. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The runner's phases in the order they run, and the step kinds each covers.
CANDIDATES, HYDRATION, FILTERING, RANKING, MIXING = PHASES = (
    "candidates",
    "hydration",
    "filtering",
    "ranking",
    "mixing",
)
PHASE_OF_KIND = {
    "gate": CANDIDATES,
    "query": CANDIDATES,
    "source": CANDIDATES,
    "merge": CANDIDATES,
    "hydrator": HYDRATION,
    "filter": FILTERING,
    "post-filter": HYDRATION,
    "scorer": RANKING,
    "selector": MIXING,
    "decorator": MIXING,
}


@dataclass(frozen=True)
class Budgets:
    """Seconds per phase (a phase left out has no budget), and per candidate source the
    latency its quality factor aims at (by source id; default: the candidates phase's)."""

    phases: Mapping[str, float]
    sources: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.phases) - set(PHASES)
        if unknown:
            raise ValueError(f"unknown phases {sorted(unknown)}; the runner's are {PHASES}")

    def scaled(self, factor: float) -> Budgets:
        """Every budget times `factor` (absolute budgets written for another machine)."""
        if factor <= 0:
            raise ValueError(f"a budget scale must be positive, not {factor}")
        return Budgets(
            {p: s * factor for p, s in self.phases.items()},
            {s: t * factor for s, t in self.sources.items()},
        )

    @property
    def total(self) -> float:
        return sum(self.phases.values())

    def until_end_of(self, phase: str) -> float:
        """Seconds from the start of the run to the end of `phase`'s budget."""
        return sum(self.phases.get(p, 0.0) for p in PHASES[: PHASES.index(phase) + 1])

    def source_target(self, source_id: str) -> float:
        return self.sources.get(source_id, self.phases.get(CANDIDATES, float("inf")))
