"""The pipeline runner: step order, candidates per stage, fail-open sources, whole
batches, metrics; and the Following timeline's pipeline as it runs on it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import count

import numpy as np
import pytest

from starling import metrics
from starling.mixer import (
    Candidates,
    Decorator,
    Filter,
    Gate,
    Hydrator,
    Page,
    Pipeline,
    Query,
    QueryHydrator,
    Runner,
    Scorer,
    Selector,
    Source,
    SourceTimedOut,
)
from starling.mixer.candidates import Mask, Rows, Scores
from starling.model import Account
from starling.runtime import Runtime

Calls = list[tuple[str, int]]  # (component id, batch size) in call order
products = count()


def product() -> str:
    """A product name no other test uses, so its metrics start at zero."""
    return f"test{next(products)}"


class Ids(Source[Query]):
    def __init__(self, id: str, ids: Sequence[int], calls: Calls) -> None:
        self.id, self.ids, self.calls = id, ids, calls  # type: ignore[misc]

    def fetch(self, query: Query) -> Candidates:
        self.calls.append((self.id, 0))
        return Candidates.of(list(self.ids))


class Failing(Source[Query]):
    id = "failing"

    def fetch(self, query: Query) -> Candidates:
        raise RuntimeError("index offline")


class Stuck(Source[Query]):
    """Answers only once released, long after its timeout."""

    id = "stuck"
    timeout_s = 0.05

    def __init__(self) -> None:
        self.release = threading.Event()

    def fetch(self, query: Query) -> Candidates:
        self.release.wait(timeout=30)
        return Candidates.of([999])


class Allow(Gate[Query]):
    def __init__(self, allowed: bool, calls: Calls) -> None:
        self.id = "allow" if allowed else "refuse"  # type: ignore[misc]
        self.allowed, self.calls = allowed, calls

    def allows(self, query: Query) -> bool:
        self.calls.append((self.id, 0))
        return self.allowed


class Follows(QueryHydrator[Query]):
    id = "follows"

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def hydrate(self, query: Query) -> Query:
        self.calls.append((self.id, 0))
        return replace(query, following=np.array([7, 8], dtype=np.int64))


class Authors(Hydrator[Query]):
    """Author = post id modulo 10."""

    def __init__(self, id: str, calls: Calls) -> None:
        self.id, self.calls = id, calls  # type: ignore[misc]

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        self.calls.append((self.id, len(candidates)))
        return candidates.with_columns(author_id=candidates.post_id % 10)


class Followed(Filter[Query]):
    id = "followed"

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        self.calls.append((self.id, len(candidates)))
        return np.isin(candidates.author_id, query.following)


class ByPostId(Scorer[Query]):
    id = "by-post-id"

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def score(self, query: Query, candidates: Candidates) -> Scores:
        self.calls.append((self.id, len(candidates)))
        return candidates.post_id.astype(np.float64)


class Best(Selector[Query]):
    id = "best"

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def select(self, query: Query, candidates: Candidates) -> Rows:
        self.calls.append((self.id, len(candidates)))
        return np.argsort(-candidates.score)[: query.page.limit]


class Mark(Decorator[Query]):
    id = "mark"

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def decorate(self, query: Query, candidates: Candidates) -> Candidates:
        self.calls.append((self.id, len(candidates)))
        return candidates.with_columns(score=candidates.score + 0.5)


def every_kind(calls: Calls, sources: Sequence[Source[Query]], name: str = "") -> Pipeline[Query]:
    return Pipeline(
        product=name or product(),
        gates=[Allow(True, calls)],
        query_hydrators=[Follows(calls)],
        sources=sources,
        hydrators=[Authors("authors", calls)],
        filters=[Followed(calls)],
        post_filter_hydrators=[Authors("authors-again", calls)],
        scorers=[ByPostId(calls)],
        selectors=[Best(calls)],
        decorators=[Mark(calls)],
    )


def run(pipeline: Pipeline[Query], limit: int = 20) -> tuple[Candidates, Runner[Query]]:
    runner = Runner(pipeline, threads=4)
    mixed = runner.run(Query(1, Page(limit=limit)))
    runner.close()
    return mixed.candidates, runner


def test_steps_run_in_the_fixed_order_and_count_candidates_per_stage() -> None:
    calls: Calls = []
    # Authors are post id % 10; the viewer follows 7 and 8.
    sources = [Ids("a", [17, 27, 31], calls), Ids("b", [28, 27, 40, 38], calls)]
    runner = Runner(every_kind(calls, sources), threads=4)
    mixed = runner.run(Query(1, Page(limit=3)))
    runner.close()
    trace = mixed.trace
    assert [(s.kind, s.id) for s in trace.steps] == [
        ("gate", "allow"),
        ("query", "follows"),
        ("source", "a"),
        ("source", "b"),
        ("merge", "merge"),
        ("hydrator", "authors"),
        ("filter", "followed"),
        ("post-filter", "authors-again"),
        ("scorer", "by-post-id"),
        ("selector", "best"),
        ("decorator", "mark"),
    ]
    assert trace.counts() == {
        "allow": 0,
        "follows": 0,
        "a": 3,
        "b": 4,
        "merge": 6,  # 27 came from both
        "authors": 6,
        "followed": 4,  # authors 1 (post 31) and 0 (post 40) are not followed
        "authors-again": 4,
        "by-post-id": 4,
        "best": 3,
        "mark": 3,
    }
    assert mixed.candidates.post_id.tolist() == [38, 28, 27]
    assert mixed.candidates.score.tolist() == [38.5, 28.5, 27.5]
    assert mixed.candidates.pipeline.tolist() == [1, 1, 0]  # 27: the first source's row


def test_a_filter_reports_what_it_kept_and_removed() -> None:
    calls: Calls = []
    runner = Runner(every_kind(calls, [Ids("a", [17, 20, 31, 8, 41], calls)]), threads=4)
    step = runner.run(Query(1)).trace.step("followed")
    runner.close()
    assert (step.candidates_in, step.candidates_out, step.removed) == (5, 2, 3)
    assert step.removed_ids.tolist() == [20, 31, 41]


def test_components_see_the_whole_batch_once_per_request() -> None:
    calls: Calls = []
    run(every_kind(calls, [Ids("a", range(10, 50), calls), Ids("b", range(50, 90), calls)]))
    assert sorted(calls) == sorted(
        [
            ("allow", 0),
            ("follows", 0),
            ("a", 0),
            ("b", 0),
            ("authors", 80),
            ("followed", 80),
            ("authors-again", 16),  # authors 7 and 8 of 80 ids
            ("by-post-id", 16),
            ("best", 16),
            ("mark", 16),
        ]
    )


def test_a_failing_and_a_stuck_source_are_dropped_and_the_others_served() -> None:
    calls: Calls = []
    stuck = Stuck()
    name = product()
    sources = [Failing(), Ids("good", [17, 28], calls), stuck]
    runner = Runner(every_kind(calls, sources, name), threads=4)
    mixed = runner.run(Query(1))
    stuck.release.set()
    runner.close()
    assert sorted(mixed.candidates.post_id.tolist()) == [17, 28]
    dropped = {s.id: s.error for s in mixed.trace.dropped_sources()}
    assert dropped == {"failing": "RuntimeError: index offline", "stuck": "timeout"}
    assert mixed.trace.step("merge").candidates_in == 2
    assert dropped_total(name, "failing", "error") == 1
    assert dropped_total(name, "stuck", "timeout") == 1


def test_a_request_fails_only_when_every_source_failed() -> None:
    stuck = Stuck()
    runner = Runner(Pipeline(product(), sources=[stuck, Failing()]), threads=4)
    with pytest.raises(SourceTimedOut):
        runner.run(Query(1))
    stuck.release.set()
    runner.close()
    runner = Runner(Pipeline(product(), sources=[Failing()]), threads=4)
    with pytest.raises(RuntimeError, match="index offline"):
        runner.run(Query(1))
    runner.close()


def test_a_closed_gate_stops_the_request_before_any_source() -> None:
    calls: Calls = []
    pipeline = every_kind(calls, [Ids("a", [17], calls)])
    pipeline = replace(pipeline, gates=[Allow(True, calls), Allow(False, calls)])
    runner = Runner(pipeline, threads=4)
    mixed = runner.run(Query(1))
    runner.close()
    assert mixed.trace.gated_by == "refuse"
    assert len(mixed.candidates) == 0
    assert calls == [("allow", 0), ("refuse", 0)]


def test_batch_components_are_not_called_on_an_empty_batch() -> None:
    calls: Calls = []
    runner = Runner(every_kind(calls, [Ids("a", [20, 31], calls)]), threads=4)
    trace = runner.run(Query(1)).trace
    runner.close()
    assert [c for c, _ in calls] == ["allow", "follows", "a", "authors", "followed"]
    assert [s.id for s in trace.steps if s.skipped] == [
        "authors-again",
        "by-post-id",
        "best",
        "mark",
    ]


def test_steps_are_recorded_in_prometheus() -> None:
    calls: Calls = []
    name = product()
    for _ in range(3):
        run(every_kind(calls, [Ids("a", [17, 20, 31, 8], calls)], name))
    labels = {"product": name, "step": "followed"}
    assert sample("starling_mixer_step_seconds_count", labels) == 3
    assert sample("starling_mixer_candidates_total", {**labels, "direction": "in"}) == 12
    assert sample("starling_mixer_candidates_total", {**labels, "direction": "out"}) == 6


def test_a_pipeline_refuses_a_step_id_used_twice() -> None:
    calls: Calls = []
    with pytest.raises(ValueError, match="authors"):
        Pipeline(
            product(),
            hydrators=[Authors("authors", calls)],
            post_filter_hydrators=[Authors("authors", calls)],
        )


def test_a_hydrator_must_return_every_row() -> None:
    class Drops(Hydrator[Query]):
        id = "drops"

        def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
            return candidates.take(np.array([0]))

    runner = Runner(Pipeline(product(), sources=[Ids("a", [1, 2], [])], hydrators=[Drops()]))
    with pytest.raises(ValueError, match="drops returned 1 rows for 2"):
        runner.run(Query(1))
    runner.close()


def test_the_following_timeline_counts_candidates_per_stage(
    runtime: Runtime, accounts: Callable[[int], list[Account]]
) -> None:
    viewer, author, reposter, stranger = accounts(4)
    for account in (author, reposter):
        runtime.actions.follow(viewer.id, account.id)
    runtime.home.read(viewer.id)
    kept = runtime.actions.post(author.id, "kept")
    gone = runtime.actions.post(author.id, "deleted")
    runtime.actions.delete(author.id, gone.id)
    runtime.actions.repost(reposter.id, kept.id)  # the original is on the page: it wins
    runtime.actions.post(stranger.id, "not followed")
    mixed = runtime.home.mix(Query(viewer.id, Page(limit=20)))
    assert mixed.candidates.post_id.tolist() == [kept.id]
    assert mixed.trace.counts() == {
        "follow-set": 0,
        "in-network": 3,  # the kept, the deleted and the repost; never the stranger's
        "merge": 3,
        "posts": 3,
        "live": 2,
        "visible": 2,
        "repost-dedup": 1,
        "live-originals": 1,
        "not-hidden": 1,
        "best-reposter": 1,
        "chronological": 1,
    }


def dropped_total(product_name: str, source: str, reason: str) -> float:
    labels = {"product": product_name, "source": source, "reason": reason}
    return sample("starling_mixer_sources_dropped_total", labels)


def sample(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0
