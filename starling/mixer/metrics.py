"""Prometheus metrics of every pipeline run, labelled by product and step id.

Labelled children are looked up once per pipeline, not per request. See
docs/subsystems/mixer.md.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from starling.metrics import REGISTRY
from starling.mixer.trace import Step, Trace

STEP_SECONDS = Histogram(
    "starling_mixer_step_seconds",
    "Time of one step of a product's pipeline",
    ["product", "step"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5),
    registry=REGISTRY,
)
CANDIDATES = Counter(
    "starling_mixer_candidates",
    "Candidates received (in) and passed on (out) by each step of a product's pipeline",
    ["product", "step", "direction"],
    registry=REGISTRY,
)
SOURCES_DROPPED = Counter(
    "starling_mixer_sources_dropped",
    "Candidate pipelines left out of a request because they failed or timed out",
    ["product", "source", "reason"],
    registry=REGISTRY,
)
PHASE_SECONDS = Histogram(
    "starling_mixer_phase_seconds",
    "Time of one phase (candidates, hydration, filtering, ranking, mixing) of a pipeline run",
    ["product", "phase"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
OVER_BUDGET = Counter(
    "starling_mixer_phase_over_budget",
    "Pipeline runs in which a phase took longer than its budget",
    ["product", "phase"],
    registry=REGISTRY,
)
RANKINGS = Counter(
    "starling_mixer_rankings",
    "Pipeline runs by the ranking tier that ranked them (a rung of the ladder)",
    ["product", "tier"],
    registry=REGISTRY,
)


class StepMeters:
    """One product's metric children, by step id."""

    def __init__(self, product: str, step_ids: list[str]) -> None:
        self.product = product
        self._seconds = {i: STEP_SECONDS.labels(product, i) for i in step_ids}
        self._in = {i: CANDIDATES.labels(product, i, "in") for i in step_ids}
        self._out = {i: CANDIDATES.labels(product, i, "out") for i in step_ids}

    def record(self, step: Step) -> None:
        if step.skipped:
            return
        self._seconds[step.id].observe(step.seconds)
        if step.candidates_in:
            self._in[step.id].inc(step.candidates_in)
        if step.candidates_out:
            self._out[step.id].inc(step.candidates_out)
        if step.error is not None:
            reason = "timeout" if step.error == "timeout" else "error"
            SOURCES_DROPPED.labels(self.product, step.id, reason).inc()

    def record_run(self, trace: Trace) -> None:
        """A finished run's phases, those over budget and its ranking tier."""
        for phase, seconds in trace.phases.items():
            PHASE_SECONDS.labels(self.product, phase).observe(seconds)
        for phase in trace.over_budget:
            OVER_BUDGET.labels(self.product, phase).inc()
        if trace.ranking is not None:
            RANKINGS.labels(self.product, trace.ranking).inc()
