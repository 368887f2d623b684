"""The runner's latency control, driven by a fake clock and deliberately slow components:
phases over budget, the quality factor of each candidate source, the ranking ladder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import count

import numpy as np
import pytest

from starling import metrics
from starling.mixer import Candidates, Hydrator, Page, Pipeline, Query, Runner, Scorer, Source
from starling.mixer.budgets import Budgets
from starling.mixer.candidates import Scores
from starling.mixer.ladder import Rung
from starling.mixer.latency import WINDOW_S, RecentLatency
from starling.mixer.quality import DROP, RISE, QualityFactor, scaled

products = count()


def product() -> str:
    return f"budgets{next(products)}"


def sample(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Asked(Source[Query]):
    """Answers as many posts as it is asked for, taking `seconds` of the fake clock."""

    def __init__(self, id: str, clock: FakeClock, usual: int, seconds: float) -> None:
        self.id, self.clock, self.usual, self.seconds = id, clock, usual, seconds  # type: ignore[misc]
        self.asked: list[int] = []

    def fetch(self, query: Query) -> Candidates:
        return self.fetch_scaled(query, 1.0)

    def fetch_scaled(self, query: Query, quality: float) -> Candidates:
        self.asked.append(scaled(self.usual, quality))
        self.clock.advance(self.seconds)
        return Candidates.of(np.arange(1, self.asked[-1] + 1) << 22)


class Slow(Hydrator[Query]):
    id = "slow-hydrator"

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        self.clock.advance(self.seconds)
        return candidates


class Model(Scorer[Query]):
    """Scores by post id, taking `seconds` of the fake clock; counts its calls."""

    def __init__(self, id: str, clock: FakeClock, seconds: float) -> None:
        self.id, self.clock, self.seconds = id, clock, seconds  # type: ignore[misc]
        self.calls = 0

    def score(self, query: Query, candidates: Candidates) -> Scores:
        self.calls += 1
        self.clock.advance(self.seconds)
        return -candidates.post_id.astype(np.float64)  # oldest first: not chronological


def runner(
    clock: FakeClock,
    sources: Sequence[Source[Query]],
    budgets: Budgets | None,
    ranking: Sequence[Rung[Query]] = (),
    hydrators: Sequence[Hydrator[Query]] = (),
) -> Runner[Query]:
    pipeline = Pipeline(
        product=product(),
        sources=sources,
        hydrators=hydrators,
        ranking=ranking,
        budgets=budgets,
    )
    return Runner(pipeline, threads=4, clock=clock)


QUERY = Query(1, Page(limit=10))
MS = 0.001


def test_phases_over_budget_are_named_in_the_trace_and_counted() -> None:
    clock = FakeClock()
    source = Asked("source", clock, 10, 3 * MS)
    budgets = Budgets({"candidates": 5 * MS, "hydration": 1 * MS})
    mixer = runner(clock, [source], budgets, hydrators=[Slow(clock, 2 * MS)])

    trace = mixer.run(QUERY).trace

    assert trace.phases["candidates"] == pytest.approx(3 * MS)
    assert trace.phases["hydration"] == pytest.approx(2 * MS)
    assert trace.over_budget == ["hydration"]
    labels = {"product": mixer.pipeline.product, "phase": "hydration"}
    assert sample("starling_mixer_phase_over_budget_total", labels) == 1
    assert sample("starling_mixer_phase_seconds_count", labels) == 1


def test_budgets_scale_to_the_machine() -> None:
    seed = Budgets({"candidates": 0.2, "ranking": 0.6}, {"in-network": 0.05})

    scaled_down = seed.scaled(1 / 20)

    assert scaled_down.phases == {"candidates": pytest.approx(0.01), "ranking": 0.03}
    assert scaled_down.source_target("in-network") == pytest.approx(0.0025)
    assert scaled_down.source_target("other") == pytest.approx(0.01)
    assert scaled_down.until_end_of("ranking") == pytest.approx(0.04)
    with pytest.raises(ValueError, match="unknown phases"):
        Budgets({"rendering": 0.1})


def test_a_slow_source_is_asked_for_fewer_candidates_until_the_floor() -> None:
    clock = FakeClock()
    slow = Asked("slow", clock, 200, 20 * MS)
    mixer = runner(clock, [slow], Budgets({"candidates": 10 * MS}))

    for _ in range(45):
        mixer.run(QUERY)

    # Each request asks at the factor the previous ones left: 1.0, 1.0 - DROP, ...
    expected, factor = [], 1.0
    for _ in range(45):
        expected.append(scaled(200, factor))
        factor = max(0.1, factor - DROP)
    assert slow.asked == expected
    assert slow.asked[-1] == 20  # the floor: a tenth
    labels = {"product": mixer.pipeline.product, "source": "slow"}
    assert sample("starling_mixer_quality_factor", labels) == pytest.approx(0.1)


def test_a_source_recovers_slowly_once_its_slow_answers_leave_the_window() -> None:
    clock = FakeClock()
    source = Asked("flaky", clock, 100, 20 * MS)
    mixer = runner(clock, [source], Budgets({"candidates": 10 * MS}))
    for _ in range(4):
        mixer.run(QUERY)
    source.seconds = 1 * MS
    mixer.run(QUERY)  # still over target: the slow answers are in the window
    clock.advance(WINDOW_S + 1)

    for _ in range(8):
        mixer.run(QUERY)

    assert mixer.quality["flaky"].value == pytest.approx(1.0 - 5 * DROP + 8 * RISE)


def test_the_quality_factor_loses_no_update_under_concurrent_requests() -> None:
    latency = RecentLatency()
    factor = QualityFactor(product(), "shared", 0.001, latency)
    start = threading.Barrier(8)

    def observe() -> None:
        start.wait()
        for _ in range(4):
            factor.observe(0.5)

    threads = [threading.Thread(target=observe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert factor.value == pytest.approx(1.0 - 32 * DROP)


def ladder(clock: FakeClock) -> tuple[Model, Model, Model, list[Rung[Query]]]:
    heavy = Model("heavy-model", clock, 30 * MS)
    light = Model("light-model", clock, 5 * MS)
    heuristic = Model("heuristic-model", clock, 1 * MS)
    rungs = [
        Rung("heavy", [light, heavy], 20 * MS),
        Rung("light", [light], 10 * MS),
        Rung("unwired", []),  # a ranker not built yet: left out
        Rung("heuristic", [heuristic], 2 * MS),
    ]
    return heavy, light, heuristic, rungs


RANKING_BUDGETS = Budgets({"candidates": 10 * MS, "ranking": 40 * MS, "mixing": 5 * MS})


def test_a_rung_over_its_budget_gives_way_to_the_lighter_one_until_its_window_passes() -> None:
    clock = FakeClock()
    heavy, light, heuristic, rungs = ladder(clock)
    mixer = runner(clock, [Asked("s", clock, 10, 1 * MS)], RANKING_BUDGETS, rungs)

    tiers = [mixer.run(QUERY).trace.ranking for _ in range(3)]
    clock.advance(WINDOW_S + 1)
    tiers.append(mixer.run(QUERY).trace.ranking)

    # The first run tries heavy (no cost known yet): 35 ms, over its 20 ms budget.
    assert tiers == ["heavy", "light", "light", "heavy"]
    assert (heavy.calls, light.calls, heuristic.calls) == (2, 4, 0)
    labels = {"product": mixer.pipeline.product, "tier": "light"}
    assert sample("starling_mixer_rankings_total", labels) == 2


def test_a_request_late_for_ranking_takes_the_rung_that_fits_then_chronological() -> None:
    clock = FakeClock()
    *_, rungs = ladder(clock)
    source = Asked("s", clock, 10, 1 * MS)
    mixer = runner(clock, [source], RANKING_BUDGETS, rungs)
    mixer.run(QUERY)  # heavy 35 ms: its cost is now known
    mixer.run(QUERY)  # light 5 ms
    mixer.run(QUERY)  # light again; heuristic's cost is still unknown
    source.seconds = 46 * MS  # 4 ms left before the ranking deadline (50 ms)

    late = mixer.run(QUERY)

    assert late.trace.ranking == "heuristic"
    assert late.trace.over_budget == ["candidates"]
    source.seconds = 49.5 * MS  # 0.5 ms left: nothing but chronological fits
    chronological = mixer.run(QUERY)
    assert chronological.trace.ranking == "chronological"
    assert not chronological.trace.late
    scored = chronological.scored
    assert scored.score.tolist() == scored.created_at.tolist()  # newest first


def test_a_request_past_its_whole_budget_is_late_and_ranked_chronologically() -> None:
    clock = FakeClock()
    heavy, light, heuristic, rungs = ladder(clock)
    mixer = runner(clock, [Asked("s", clock, 10, 60 * MS)], RANKING_BUDGETS, rungs)

    trace = mixer.run(QUERY).trace

    assert trace.late
    assert trace.ranking == "chronological"
    assert heavy.calls == light.calls == heuristic.calls == 0


def test_a_rung_whose_model_is_not_trained_is_passed_over_until_it_is() -> None:
    clock = FakeClock()
    trained = [False]
    heavy, light = Model("heavy", clock, 1 * MS), Model("light", clock, 1 * MS)
    rungs = [Rung("heavy", [heavy], ready=lambda: trained[0]), Rung("light", [light])]
    mixer = runner(clock, [Asked("s", clock, 10, 1 * MS)], None, rungs)

    before = mixer.run(QUERY).trace.ranking
    trained[0] = True  # a model version appears while serving

    assert (before, mixer.run(QUERY).trace.ranking) == ("light", "heavy")
    assert (heavy.calls, light.calls) == (1, 1)
