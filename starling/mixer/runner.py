"""The one runner every product's pipeline executes on, in a fixed step order:

gates -> query hydrators -> candidate pipelines (concurrent, fail-open) -> merge ->
hydrators -> filters -> post-filter hydrators -> scorers -> selectors -> decorators.

It times every step, counts the candidates each receives and passes on, records both in
the request's trace and in Prometheus, and hands batch components the whole batch (they
are not called on an empty one). See docs/subsystems/mixer.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Generic

import numpy as np

from starling.mixer.budgets import CANDIDATES, PHASE_OF_KIND, RANKING
from starling.mixer.candidates import Candidates, Ids
from starling.mixer.components import (
    Component,
    Decorator,
    Filter,
    Hydrator,
    Q,
    Scorer,
    Selector,
)
from starling.mixer.ladder import Ladder
from starling.mixer.latency import Clock, RecentLatency
from starling.mixer.metrics import StepMeters
from starling.mixer.pipeline import MERGE, RESERVED, Pipeline
from starling.mixer.quality import QualityFactor
from starling.mixer.sources import fetch_all
from starling.mixer.trace import Step, Trace

SOURCE_THREADS = 16  # sources of concurrent requests, and timed-out ones still running
NO_IDS: Ids = np.empty(0, dtype=np.int64)

# A batch step: the candidates it passes on, and the post ids it removed (filters).
Applied = tuple[Candidates, Ids]
Apply = Callable[[Q, Candidates], Applied]
BatchStep = tuple[str, Component, Apply[Q]]


@dataclass(frozen=True)
class Mixed(Generic[Q]):
    """One run's result: the hydrated query, the selected candidates, the trace, and
    every candidate the selectors chose from (filtered and scored: a product may keep
    them for its next pages)."""

    query: Q
    candidates: Candidates
    trace: Trace
    scored: Candidates


class Runner(Generic[Q]):
    def __init__(
        self,
        pipeline: Pipeline[Q],
        threads: int = SOURCE_THREADS,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"mixer-{pipeline.product}")
        self._meters = StepMeters(pipeline.product, [*pipeline.step_ids(), *RESERVED])
        self._before_ranking, self._after_ranking = _batch_steps(pipeline)
        self._ladder = Ladder(pipeline.ranking, clock) if pipeline.ranking else None
        self.quality = _quality_factors(pipeline, clock)

    def run(self, query: Q) -> Mixed[Q]:
        started = self.clock()
        trace = Trace(self.pipeline.product)
        for gate in self.pipeline.gates:
            began = self.clock()
            allowed = gate.allows(query)
            self._record(trace, Step("gate", gate.id, self.clock() - began, 0, 0))
            if not allowed:
                trace.gated_by = gate.id
                self._finish(trace)
                return Mixed(query, Candidates.empty(), trace, Candidates.empty())
        for query_hydrator in self.pipeline.query_hydrators:
            began = self.clock()
            query = query_hydrator.hydrate(query)
            self._record(trace, Step("query", query_hydrator.id, self.clock() - began, 0, 0))
        candidates = self._fetch(query, trace)
        for kind, component, apply in self._before_ranking:
            candidates = self._apply(trace, kind, component, apply, query, candidates)
        scored = candidates = self._rank(query, candidates, trace, self.clock() - started)
        for kind, component, apply in self._after_ranking:
            candidates = self._apply(trace, kind, component, apply, query, candidates)
        self._finish(trace)
        return Mixed(query, candidates, trace, scored)

    def scorer_of(self, tier: str) -> str | None:
        """The id of the scorer that gave a ranking tier's final score."""
        return None if self._ladder is None else self._ladder.scorer_of(tier)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _fetch(self, query: Q, trace: Trace) -> Candidates:
        sources = self.pipeline.sources
        qualities = [self.quality[s.id].value if self.quality else 1.0 for s in sources]
        started = self.clock()
        batches, steps = fetch_all(self._pool, sources, query, qualities, self.clock)
        _add_phase(trace, CANDIDATES, self.clock() - started)  # side by side: the wall time
        for step in steps:
            self._record(trace, step)
            if self.quality:
                self.quality[step.id].observe(step.seconds)
        began = self.clock()
        merged = Candidates.concat(batches)
        unique = merged.unique_posts() if len(batches) > 1 else merged
        self._record(trace, Step("merge", MERGE, self.clock() - began, len(merged), len(unique)))
        return unique

    def _rank(self, query: Q, candidates: Candidates, trace: Trace, elapsed: float) -> Candidates:
        """The ladder's step: the heaviest rung that fits the time left (ladder.py)."""
        if self._ladder is None:
            return candidates
        budgets = self.pipeline.budgets
        deadline = float("inf") if budgets is None else budgets.until_end_of(RANKING)
        trace.late = budgets is not None and elapsed > budgets.total
        rung = self._ladder.rungs[-1] if trace.late else self._ladder.choose(elapsed, deadline)
        trace.ranking = rung.tier
        began = self.clock()
        for scorer in rung.scorers:
            apply = partial(_scored, scorer)
            candidates = self._apply(trace, "scorer", scorer, apply, query, candidates)
        if len(candidates):
            self._ladder.observe(rung, self.clock() - began)
        return candidates

    def _finish(self, trace: Trace) -> None:
        budgets = self.pipeline.budgets
        if budgets is not None:
            over = (p for p, s in trace.phases.items() if s > budgets.phases.get(p, s))
            trace.over_budget.extend(over)
        self._meters.record_run(trace)

    def _apply(
        self,
        trace: Trace,
        kind: str,
        component: Component,
        apply: Apply[Q],
        query: Q,
        candidates: Candidates,
    ) -> Candidates:
        if not len(candidates):
            self._record(trace, Step(kind, component.id, 0.0, 0, 0, skipped=True))
            return candidates
        started = self.clock()
        result, removed = apply(query, candidates)
        seconds = self.clock() - started
        step = Step(kind, component.id, seconds, len(candidates), len(result), removed)
        self._record(trace, step)
        return result

    def _record(self, trace: Trace, step: Step) -> None:
        trace.steps.append(step)
        if step.kind != "source":  # sources overlap: their phase is timed as a whole
            _add_phase(trace, PHASE_OF_KIND[step.kind], step.seconds)
        self._meters.record(step)


def _add_phase(trace: Trace, phase: str, seconds: float) -> None:
    trace.phases[phase] = trace.phases.get(phase, 0.0) + seconds


def _quality_factors(pipeline: Pipeline[Q], clock: Clock) -> dict[str, QualityFactor]:
    """A quality factor per source, aiming at its latency target; none without budgets."""
    budgets = pipeline.budgets
    if budgets is None:
        return {}
    return {
        s.id: QualityFactor(
            pipeline.product, s.id, budgets.source_target(s.id), RecentLatency(clock=clock)
        )
        for s in pipeline.sources
    }


def _batch_steps(p: Pipeline[Q]) -> tuple[list[BatchStep[Q]], list[BatchStep[Q]]]:
    """The steps after the merge, in the runner's order, each with how it applies: those
    before the ranking ladder and those after it."""
    hydrate: list[BatchStep[Q]] = [("hydrator", h, partial(_hydrated, h)) for h in p.hydrators]
    before: list[BatchStep[Q]] = [
        *hydrate,
        *(("filter", f, partial(_filtered, f)) for f in p.filters),
        *(("post-filter", h, partial(_hydrated, h)) for h in p.post_filter_hydrators),
        *(("scorer", s, partial(_scored, s)) for s in p.scorers),
    ]
    after: list[BatchStep[Q]] = [
        *(("selector", s, partial(_selected, s)) for s in p.selectors),
        *(("decorator", d, partial(_decorated, d)) for d in p.decorators),
    ]
    return before, after


def _hydrated(hydrator: Hydrator[Q], query: Q, candidates: Candidates) -> Applied:
    return _same_rows(hydrator, candidates, hydrator.hydrate(query, candidates)), NO_IDS


def _filtered(filter_: Filter[Q], query: Q, candidates: Candidates) -> Applied:
    keep = filter_.keep(query, candidates)
    if keep.all():  # the common case: no copy of every column
        return candidates, NO_IDS
    return candidates.take(keep), candidates.post_id[~keep]


def _scored(scorer: Scorer[Q], query: Q, candidates: Candidates) -> Applied:
    return candidates.with_columns(score=scorer.score(query, candidates)), NO_IDS


def _selected(selector: Selector[Q], query: Q, candidates: Candidates) -> Applied:
    return candidates.take(selector.select(query, candidates)), NO_IDS


def _decorated(decorator: Decorator[Q], query: Q, candidates: Candidates) -> Applied:
    return _same_rows(decorator, candidates, decorator.decorate(query, candidates)), NO_IDS


def _same_rows(component: Component, before: Candidates, after: Candidates) -> Candidates:
    if len(after) != len(before):
        raise ValueError(f"{component.id} returned {len(after)} rows for {len(before)}")
    return after
