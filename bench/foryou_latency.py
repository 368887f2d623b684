"""For You latency on the bench world: the whole pipeline as the server runs it (its four
sources: in-network, real graph, SimClusters and TwHIN; the light features; the ranking
ladder with a trained light and heavy model) per phase and per step, and its degradation
under a slow source and a slow heavy ranker.

The serving state is fed as serving feeds it: the real graph and the feature state
rebuilt by their workers from the store's window, SimClusters post vectors from the
window's likes on the newest communities, TwHIN's index rebuilt by its worker from the
newest account embeddings. The communities, the embeddings and both rankers are trained
first when the world's data dir has none (the jobs of `starling train`; cached there for
the next run). Picks active viewers that follow someone and builds their cached timelines
once (not timed). Then (a) runs the pipeline (`ForYouTimeline.mix`, server-side: viewer
id to the selected, hydrated page) for every viewer over several rounds, reporting p50/p99
of the whole run, of each phase and the p50 of each step (from the trace), the candidates
each stage passed on and the ranking tiers; and the next page served from the kept list.
(b) Adds a source whose latency grows with what it is asked for (20 ms for its usual 750)
and makes the heavy ranker 30 ms slower, and reports the same figures, with the tiers
that served and the slow source's quality factor. The engager sums (SimClusters' and
TwHIN's, kept per post until its edges change) and the post records (kept in front of
the store) are reported as the share of posts served kept: across distinct viewers (the
first pass, from empty) and in each part; the plain pipeline is measured once more with
nothing kept (every post summed afresh, every record and author's counts read from the
store: the worst case).
`--blas-threads` caps the BLAS pool (the heavy ranker's matrix products) for the run.
Run: python -m bench.foryou_latency [--blas-threads 1,0].
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, shown, write_results
from bench.realgraph import viewers
from bench.world import bench_data_dir, bench_settings, world_arguments
from starling.foryou.hydrators import KEPT_AUTHORS, AuthorFollowers
from starling.foryou.sources import OUT_OF_NETWORK_CANDIDATES
from starling.foryou.timeline import PAGE_SIZE, ForYouTimeline
from starling.mixer import Candidates, Page, Query, Scorer, Source
from starling.mixer.budgets import PHASES
from starling.mixer.candidates import Scores
from starling.mixer.kept import Kept
from starling.mixer.ladder import Rung
from starling.mixer.posts import PostRecords
from starling.mixer.quality import scaled
from starling.mixer.records import KEPT_POSTS, KeptRecords
from starling.ranking.columns import Ids, Matrix
from starling.ranking.engagers import EngagerSums, VectorsOf, WeightOf, engager_sums
from starling.ranking.heavy import train as heavy_train
from starling.ranking.heavy.scorer import newest_model as newest_heavy
from starling.ranking.impressions import ImpressionParams
from starling.ranking.model import newest_model as newest_light
from starling.ranking.train import train_light
from starling.runtime import Runtime, open_runtime
from starling.simclusters import train as simclusters_train
from starling.simclusters.index import open_index
from starling.simclusters.versions import directory_in
from starling.twhin import train as twhin_train
from starling.twhin.embeddings import newest as newest_embeddings
from starling.workers.features import FeatureWorker
from starling.workers.simclusters import SimClustersWorker
from starling.workers.twhin import TwhinWorker

Counts = npt.NDArray[np.int64]
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


class Slowed(Scorer[Query]):
    """A scorer that takes SLOW_RANKER_S longer (the heavy ranker made slow)."""

    id = "slowed"

    def __init__(self, scorer: Scorer[Query]) -> None:
        self.scorer = scorer

    def score(self, query: Query, candidates: Candidates) -> Scores:
        time.sleep(SLOW_RANKER_S)
        return self.scorer.score(query, candidates)


class DegradedTimeline(ForYouTimeline):
    """For You whose heavy ranker (behind the light ranker's cut) is slow."""

    def _ranking(self) -> list[Rung[Query]]:
        heavy, *rest = super()._ranking()
        *before, last = heavy.scorers
        return [replace(heavy, scorers=[*before, Slowed(last)]), *rest]


def train_missing(data_dir: Path, train_viewers: int, heavy_epochs: int) -> dict[str, str]:
    """Runs each `starling train` job whose output the data dir lacks; what each did."""
    done: dict[str, str] = {}
    runtime = open_runtime(bench_settings(data_dir, workers="none"), workers="none")
    store = runtime.store
    try:
        if open_index(data_dir).current() is None:
            params = simclusters_train.TrainParams()
            done["simclusters"] = str(
                simclusters_train.train(store, directory_in(data_dir), params)
            )
        if newest_embeddings(data_dir).current() is None:
            done["embeddings"] = str(twhin_train.train(store, data_dir, twhin_train.TrainParams()))
        if newest_light(data_dir).current() is None:
            _, path = train_light(runtime, ImpressionParams(viewers=train_viewers))
            done["light"] = str(path)
        if newest_heavy(data_dir).current() is None:
            epochs = heavy_train.TrainParams(max_epochs=heavy_epochs)
            done["heavy"] = str(heavy_train.train(store, data_dir, epochs).path)
    finally:
        runtime.close()
    return done


def feed(runtime: Runtime) -> dict[str, int]:
    """The in-process state serving reads, rebuilt as its workers rebuild it on start
    (SimClusters' post vectors from the store's likes of the window, on the newest
    communities)."""
    runtime.fanout.warm_celebrity_index()
    fed = {"real_graph_edges": runtime.realgraph_worker.rebuild()}
    features = runtime.workers[FeatureWorker.name]
    assert isinstance(features, FeatureWorker)
    fed["feature_posts"] = features.rebuild()
    simclusters = runtime.workers[SimClustersWorker.name]
    assert isinstance(simclusters, SimClustersWorker)
    simclusters.tick()
    fed["simclusters_posts"] = len(simclusters.posts)
    twhin = runtime.workers[TwhinWorker.name]
    assert isinstance(twhin, TwhinWorker)
    twhin.tick()
    fed["twhin_posts"] = 0 if twhin.posts is None else len(twhin.posts.index)
    return fed


def timeline(runtime: Runtime, degraded: bool) -> ForYouTimeline:
    if not degraded:
        return runtime.for_you
    return DegradedTimeline(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        out_of_network=[*runtime.out_of_network(), SlowSource()],
        budget_scale=runtime.settings.foryou_budget_scale,
        ranking=runtime.ranking_inputs(),
    )


def engager_caches(for_you: ForYouTimeline) -> list[EngagerSums]:
    inputs = for_you.ranking.inputs
    found = [inputs.simclusters.engagers, inputs.twhin.engagers]
    return [sums for sums in found if sums is not None]


class NeverKept(EngagerSums):
    """Every post's engager sums read afresh from the real graph (as before they were
    kept): the worst case, where no post was a candidate for anyone before."""

    def sums(
        self, model: object, post_ids: Ids, vectors_of: VectorsOf, weight_of: WeightOf, dims: int
    ) -> Matrix:
        return engager_sums(self.graph.snapshot(), post_ids, vectors_of, weight_of, dims)


def keep(for_you: ForYouTimeline, kept: bool) -> None:
    """Each reader's engager sums, the pipeline's post records and authors' counts kept
    (afresh, from empty) or never kept."""
    inputs = for_you.ranking.inputs
    for reader in (inputs.simclusters, inputs.twhin):
        if reader.engagers is not None:
            graph = reader.engagers.graph
            reader.engagers = EngagerSums(graph) if kept else NeverKept(graph)
    posts = next(h for h in for_you.pipeline.hydrators if isinstance(h, PostRecords))
    records = KeptRecords(for_you.store, KEPT_POSTS if kept else 0)
    for_you.records = posts.store = records
    counts = next(
        h for h in for_you.pipeline.post_filter_hydrators if isinstance(h, AuthorFollowers)
    )
    counts.kept = Kept(KEPT_AUTHORS if kept else 0)


def kept_and_read(for_you: ForYouTimeline) -> Counts:
    """Kept and read afresh so far: [engager sums, post records] x [kept, read]."""
    sums = [[s.hits, s.misses] for s in engager_caches(for_you)]
    found: Counts = np.array([np.sum(sums, axis=0), [for_you.records.hits, for_you.records.misses]])
    return found


def kept_share(before: Counts, after: Counts) -> dict[str, float]:
    kept, read = (after - before).T
    shares = kept / np.maximum(kept + read, 1)
    return {"engager_sums": float(shares[0]), "post_records": float(shares[1])}


def measure(for_you: ForYouTimeline, picked: Sequence[int], rounds: int) -> dict[str, Any]:
    before = kept_and_read(for_you)
    totals: list[float] = []
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    steps: dict[str, list[float]] = {}
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
            for step in mixed.trace.steps:
                steps.setdefault(f"{step.kind} {step.id}", []).append(step.seconds)
            for step_id, n in mixed.trace.counts().items():
                counts.setdefault(step_id, []).append(n)
            tiers[mixed.trace.ranking or "none"] += 1
            over.update(mixed.trace.over_budget)
    runs = len(totals)
    step_p50 = {s: 1000 * float(np.median(t)) for s, t in steps.items()}
    return {
        "runs": runs,
        "pipeline_ms": milliseconds(totals),
        "phase_ms": {p: milliseconds(s) for p, s in phases.items()},
        "step_p50_ms": dict(sorted(step_p50.items(), key=lambda kv: -kv[1])),
        "candidates_p50": {s: float(np.median(n)) for s, n in counts.items()},
        "tiers": dict(tiers),
        "over_budget_share": {p: n / runs for p, n in over.items()},
        "quality_factor": {s: q.value for s, q in for_you.runner.quality.items()},
        "kept_share": kept_share(before, kept_and_read(for_you)),
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
    parser.add_argument(
        "--blas-threads", default="1,0", help="BLAS thread caps to run under (0: numpy's own)"
    )
    parser.add_argument("--train-viewers", type=int, default=300, help="light ranker's")
    parser.add_argument("--heavy-epochs", type=int, default=3, help="heavy ranker's at most")
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    trained = train_missing(data_dir, args.train_viewers, args.heavy_epochs)
    caps = [int(c) or None for c in args.blas_threads.split(",")]
    results = run(data_dir, args, caps) | {"trained_now": trained}
    print(f"For You latency, {args.size} world. {machine()}\n")
    parts = [k for k in results if k.startswith(("pipeline", "degraded"))]
    rows = [[k, shown(v)] for part in parts for k, v in _flat(part, results)]
    rows += [[k, shown(v)] for k, v in results["pages"].items()]
    shared = results["kept_across_viewers"]
    rows.append(["kept across viewers (one pass, from empty)", shown(shared)])
    print(markdown_table(["figure", "value"], rows))
    print(f"\nfed: {results['fed']}")
    print(f"\nresults: {write_results('foryou_latency', results)}")


def run(data_dir: Path, args: argparse.Namespace, caps: list[int | None]) -> dict[str, Any]:
    """The plain pipeline under each BLAS cap, then the next pages and the degraded
    pipeline under the first."""
    runtime = open_runtime(bench_settings(data_dir, workers="none"), workers="none")
    try:
        fed = feed(runtime)
        picked = [v for v, _ in viewers(runtime.store, data_dir, args.viewers, args.seed)]
        plain = timeline(runtime, degraded=False)
        before = kept_and_read(plain)
        for viewer in tqdm(picked, desc="build timelines", unit="viewer"):
            plain.mix(Query(viewer, Page(limit=PAGE_SIZE)))
        # One pass from empty: how much distinct viewers share.
        shared = kept_share(before, kept_and_read(plain))
        results: dict[str, Any] = {
            "size": args.size,
            "viewers": len(picked),
            "fed": fed,
            "kept_across_viewers": shared,
            "budget_scale": runtime.settings.foryou_budget_scale,
            "budget_ms": {p: s * 1000 for p, s in plain.pipeline.budgets.phases.items()}
            if plain.pipeline.budgets
            else {},
        }
        for cap in caps:
            with threadpool_limits(limits=cap):
                results[f"pipeline, BLAS threads {cap or 'default'}"] = measure(
                    plain, picked, args.rounds
                )
        with threadpool_limits(limits=caps[0]):
            keep(plain, kept=False)
            results["pipeline, nothing kept"] = measure(plain, picked, args.rounds)
            keep(plain, kept=True)
        with threadpool_limits(limits=caps[0]):
            results["pages"] = next_pages(plain, picked)
            slow = timeline(runtime, degraded=True)
            try:
                degraded = measure(slow, picked, args.rounds)
            finally:
                slow.close()
        results[f"degraded, BLAS threads {caps[0] or 'default'}"] = degraded
        return results
    finally:
        runtime.close()


def _flat(part: str, results: dict[str, Any]) -> list[tuple[str, Any]]:
    found: dict[str, Any] = results[part]
    rows = [(f"{part} {k}", v) for k, v in found.items() if k != "phase_ms"]
    rows += [(f"{part} {p} ms", v) for p, v in found["phase_ms"].items()]
    return rows


if __name__ == "__main__":
    main()
