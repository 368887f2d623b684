"""Candidate pipelines run side by side, each fail-open with its own timeout.

Every source is submitted to the runner's thread pool at once; each is waited for until
its own deadline, counted from submission. A source that raises or is still running at
its deadline is dropped from this request (its step records why) and the others'
candidates are served. Only when every source failed does the request fail, with the
first failure: there is nothing left to degrade to. A timed-out source keeps its thread
until it returns (Python threads cannot be stopped), so the pool is sized for that.

A pipeline with a single source runs it on the request's own thread: with nothing to
degrade to, its timeout could only turn a slow page into an error, and the hand-off to a
pool thread would cost a thread switch on every request. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor, wait

import numpy as np

from starling.mixer.candidates import Candidates
from starling.mixer.components import Q, Source
from starling.mixer.latency import Clock
from starling.mixer.trace import Step

log = logging.getLogger(__name__)

Fetched = tuple[Candidates, float]


class SourceTimedOut(TimeoutError):
    """Raised for a request whose every source failed, the first of them by timeout."""


def fetch_all(
    pool: Executor,
    sources: Sequence[Source[Q]],
    query: Q,
    qualities: Sequence[float],
    clock: Clock,
) -> tuple[list[Candidates], list[Step]]:
    """Each source's candidates (stamped with its index) and its step, in declared order;
    each source is asked at its quality factor (1.0 for a product without budgets)."""
    if len(sources) == 1:
        return _alone(sources[0], query, qualities[0], clock)
    started = clock()
    futures = [
        pool.submit(_timed, source, query, quality, clock)
        for source, quality in zip(sources, qualities, strict=True)
    ]
    batches: list[Candidates] = []
    steps: list[Step] = []
    failures: list[BaseException] = []
    for index, (source, future) in enumerate(zip(sources, futures, strict=True)):
        deadline = started + source.timeout_s
        done, _ = wait([future], timeout=max(0.0, deadline - clock()))
        if not done:
            future.cancel()
            failures.append(SourceTimedOut(f"{source.id}: no answer in {source.timeout_s} s"))
            steps.append(_dropped(source, "timeout", clock() - started))
            continue
        error = future.exception()
        if error is not None:
            failures.append(error)
            why = f"{type(error).__name__}: {error}"
            steps.append(_dropped(source, why, clock() - started))
            continue
        batch, seconds = future.result()
        batches.append(_stamped(batch, index))
        steps.append(Step("source", source.id, seconds, 0, len(batch)))
    if sources and not batches:
        raise failures[0]
    return batches, steps


def _alone(
    source: Source[Q], query: Q, quality: float, clock: Clock
) -> tuple[list[Candidates], list[Step]]:
    batch, seconds = _timed(source, query, quality, clock)
    return [_stamped(batch, 0)], [Step("source", source.id, seconds, 0, len(batch))]


def _stamped(batch: Candidates, index: int) -> Candidates:
    return batch.with_columns(pipeline=np.full(len(batch), index, dtype=np.int16))


def _timed(source: Source[Q], query: Q, quality: float, clock: Clock) -> Fetched:
    started = clock()
    batch = source.fetch_scaled(query, quality)
    return batch, clock() - started


def _dropped(source: Source[Q], why: str, seconds: float) -> Step:
    log.warning("candidate source %s dropped from a request: %s", source.id, why)
    return Step("source", source.id, seconds, 0, 0, error=why)
