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
from starling.mixer.metrics import StepMeters
from starling.mixer.pipeline import MERGE, Pipeline
from starling.mixer.sources import fetch_all
from starling.mixer.trace import Step, Trace

SOURCE_THREADS = 16  # sources of concurrent requests, and timed-out ones still running
NO_IDS: Ids = np.empty(0, dtype=np.int64)

# A batch step: the candidates it passes on, and the post ids it removed (filters).
Applied = tuple[Candidates, Ids]
Apply = Callable[[Q, Candidates], Applied]


@dataclass(frozen=True)
class Mixed(Generic[Q]):
    """One run's result: the hydrated query, the selected candidates and the trace."""

    query: Q
    candidates: Candidates
    trace: Trace


class Runner(Generic[Q]):
    def __init__(self, pipeline: Pipeline[Q], threads: int = SOURCE_THREADS) -> None:
        self.pipeline = pipeline
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"mixer-{pipeline.product}")
        self._meters = StepMeters(pipeline.product, [*pipeline.step_ids(), MERGE])
        self._batch_steps = _batch_steps(pipeline)

    def run(self, query: Q) -> Mixed[Q]:
        trace = Trace(self.pipeline.product)
        for gate in self.pipeline.gates:
            started = time.perf_counter()
            allowed = gate.allows(query)
            self._record(trace, Step("gate", gate.id, _since(started), 0, 0))
            if not allowed:
                trace.gated_by = gate.id
                return Mixed(query, Candidates.empty(), trace)
        for query_hydrator in self.pipeline.query_hydrators:
            started = time.perf_counter()
            query = query_hydrator.hydrate(query)
            self._record(trace, Step("query", query_hydrator.id, _since(started), 0, 0))
        candidates = self._fetch(query, trace)
        for kind, component, apply in self._batch_steps:
            candidates = self._apply(trace, kind, component, apply, query, candidates)
        return Mixed(query, candidates, trace)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _fetch(self, query: Q, trace: Trace) -> Candidates:
        batches, steps = fetch_all(self._pool, self.pipeline.sources, query)
        for step in steps:
            self._record(trace, step)
        started = time.perf_counter()
        merged = Candidates.concat(batches)
        unique = merged.unique_posts() if len(batches) > 1 else merged
        self._record(trace, Step("merge", MERGE, _since(started), len(merged), len(unique)))
        return unique

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
        started = time.perf_counter()
        result, removed = apply(query, candidates)
        step = Step(kind, component.id, _since(started), len(candidates), len(result), removed)
        self._record(trace, step)
        return result

    def _record(self, trace: Trace, step: Step) -> None:
        trace.steps.append(step)
        self._meters.record(step)


def _batch_steps(p: Pipeline[Q]) -> list[tuple[str, Component, Apply[Q]]]:
    """The steps after the merge, in the runner's order, each with how it applies."""
    hydrate: list[tuple[str, Component, Apply[Q]]] = [
        ("hydrator", h, partial(_hydrated, h)) for h in p.hydrators
    ]
    return [
        *hydrate,
        *(("filter", f, partial(_filtered, f)) for f in p.filters),
        *(("post-filter", h, partial(_hydrated, h)) for h in p.post_filter_hydrators),
        *(("scorer", s, partial(_scored, s)) for s in p.scorers),
        *(("selector", s, partial(_selected, s)) for s in p.selectors),
        *(("decorator", d, partial(_decorated, d)) for d in p.decorators),
    ]


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


def _since(started: float) -> float:
    return time.perf_counter() - started
