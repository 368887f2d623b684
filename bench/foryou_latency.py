"""For You latency on the bench world: the whole pipeline (in-network and real-graph
sources, about 1,500 candidates) per phase, and its degradation under a slow source and
a slow ranker.

Loads every engagement of the world into the runtime's real graph (as the real-graph
benchmark does) so the out-of-network source has candidates; picks active viewers that
follow someone and builds their cached timelines once (not timed). Then (a) runs the
pipeline (`ForYouTimeline.mix`, server-side: viewer id to the selected, hydrated page)
for every viewer over several rounds, reporting p50/p99 of the whole run and of each
phase (from the trace), the candidates each stage passed on and the ranking tiers; and
the next page served from the kept list. (b) Adds a source whose latency grows with what
it is asked for (20 ms for its usual 750) and a heavy rung that takes 30 ms, and reports
the same figures, with the tiers that served and the slow source's quality factor.
Run: python -m bench.foryou_latency.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.realgraph import load, viewers
from bench.world import bench_data_dir, bench_settings, world_arguments
from starling.foryou.budgets import rung_budget
from starling.foryou.realgraph_source import RealGraphIndex, RealGraphSource
from starling.foryou.sources import OUT_OF_NETWORK_CANDIDATES
from starling.foryou.timeline import PAGE_SIZE, ForYouTimeline
from starling.mixer import Candidates, Page, Query, Scorer, Source
from starling.mixer.budgets import PHASES
from starling.mixer.candidates import Scores
from starling.mixer.ladder import Rung
from starling.mixer.quality import scaled
from starling.runtime import Runtime, open_runtime
from starling.workers.realgraph import REBUILD_CHUNK

SLOW_SOURCE_S = 0.020  # for its usual 750 candidates
SLOW_RANKER_S = 0.030


class SlowSource(Source[Query]):
    """Takes time in proportion to the candidates it is asked for; proposes none."""

    id = "slow-source"
    timeout_s = 0.5

    def fetch(self, query: Query) -> Candidates:
        return self.fetch_scaled(query, 1.0)

    def fetch_scaled(self, query: Query, quality: float) -> Candidates:
        asked = scaled(OUT_OF_NETWORK_CANDIDATES, quality)
        time.sleep(SLOW_SOURCE_S * asked / OUT_OF_NETWORK_CANDIDATES)
        return Candidates.empty()


class SlowRanker(Scorer[Query]):
    id = "slow-ranker"

    def score(self, query: Query, candidates: Candidates) -> Scores:
        time.sleep(SLOW_RANKER_S)
        scores: Scores = candidates.created_at.astype(np.float64)
        return scores


class DegradedTimeline(ForYouTimeline):
    """For You with a slow heavy rung on top of its own ladder."""

    def _ranking(self) -> list[Rung[Query]]:
        heavy = Rung("heavy", [SlowRanker()], rung_budget("heavy", self.budget_scale))
        return [heavy, *super()._ranking()[1:]]


def timeline(runtime: Runtime, degraded: bool) -> ForYouTimeline:
    sources: list[Source[Query]] = [RealGraphSource(RealGraphIndex(runtime.realgraph))]
    make = DegradedTimeline if degraded else ForYouTimeline
    return make(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        out_of_network=[*sources, SlowSource()] if degraded else sources,
        budget_scale=runtime.settings.foryou_budget_scale,
    )


def measure(for_you: ForYouTimeline, picked: Sequence[int], rounds: int) -> dict[str, Any]:
    totals: list[float] = []
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    counts: dict[str, list[int]] = {}
    tiers: Counter[str] = Counter()
    over: Counter[str] = Counter()
    for _ in tqdm(range(rounds), desc="pipeline", unit="round"):
        for viewer in picked:
            started = time.perf_counter()
            mixed = for_you.mix(Query(viewer, Page(limit=PAGE_SIZE)))
            totals.append(time.perf_counter() - started)
            for phase in PHASES:
                phases[phase].append(mixed.trace.phases.get(phase, 0.0))
            for step, n in mixed.trace.counts().items():
                counts.setdefault(step, []).append(n)
            tiers[mixed.trace.ranking or "none"] += 1
            over.update(mixed.trace.over_budget)
    runs = len(totals)
    return {
        "runs": runs,
        "pipeline_ms": milliseconds(totals),
        "phase_ms": {p: milliseconds(s) for p, s in phases.items()},
        "candidates_p50": {s: float(np.median(n)) for s, n in counts.items()},
        "tiers": dict(tiers),
        "over_budget_share": {p: n / runs for p, n in over.items()},
        "quality_factor": {s: q.value for s, q in for_you.runner.quality.items()},
    }


def next_pages(for_you: ForYouTimeline, picked: Sequence[int]) -> dict[str, Any]:
    """A first page (pipeline, list kept) then the second from the kept list."""
    firsts: list[float] = []
    seconds: list[float] = []
    for viewer in tqdm(picked, desc="pages", unit="viewer"):
        started = time.perf_counter()
        for_you.serve(viewer)
        firsts.append(time.perf_counter() - started)
        for_you.settle()
        started = time.perf_counter()
        for_you.serve(viewer)
        seconds.append(time.perf_counter() - started)
    return {"first_page_ms": milliseconds(firsts), "next_page_ms": milliseconds(seconds)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    runtime = open_runtime(bench_settings(data_dir), workers="none")
    try:
        runtime.fanout.warm_celebrity_index()
        edges, _ = load(runtime.store)
        for i in tqdm(range(0, edges.size, REBUILD_CHUNK), desc="real graph"):
            runtime.realgraph.add(edges.take(slice(i, i + REBUILD_CHUNK)))
        picked = [v for v, _ in viewers(runtime.store, data_dir, args.viewers, args.seed)]
        plain = timeline(runtime, degraded=False)
        for viewer in tqdm(picked, desc="build timelines", unit="viewer"):
            plain.mix(Query(viewer, Page(limit=PAGE_SIZE)))
        results = {
            "size": args.size,
            "viewers": len(picked),
            "budget_scale": runtime.settings.foryou_budget_scale,
            "budget_ms": {p: s * 1000 for p, s in plain.pipeline.budgets.phases.items()}
            if plain.pipeline.budgets
            else {},
            "pipeline": measure(plain, picked, args.rounds),
            "pages": next_pages(plain, picked),
            "degraded": measure(timeline(runtime, degraded=True), picked, args.rounds),
        }
    finally:
        runtime.close()
    print(f"For You latency, {args.size} world. {machine()}\n")
    rows = [[k, _shown(v)] for part in ("pipeline", "degraded") for k, v in _flat(part, results)]
    rows += [[k, _shown(v)] for k, v in results["pages"].items()]
    print(markdown_table(["figure", "value"], rows))
    print(f"\nresults: {write_results('foryou_latency', results)}")


def _flat(part: str, results: dict[str, Any]) -> list[tuple[str, Any]]:
    found: dict[str, Any] = results[part]
    rows = [(f"{part} {k}", v) for k, v in found.items() if k != "phase_ms"]
    rows += [(f"{part} {p} ms", v) for p, v in found["phase_ms"].items()]
    return rows


def _shown(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3g}" for k, v in value.items())
    return value


if __name__ == "__main__":
    main()
