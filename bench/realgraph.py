"""Real graph on the bench world: ingest rate, memory per edge, and the latency of the
2-hop candidate generation for random viewers.

Reads every engagement of the world from the store (`Store.iter_engagements`, as the
worker's rebuild does), loads them oldest first in segment-sized chunks (the rebuild's
rate), then streams the newest ones in batches of 500 (the worker's rate, each batch
checked against every segment). Then, for random active viewers that follow someone,
times `candidates` (top 300, the figure of Twitter's UTEG source) and `affinity` for the
authors it returned, over several rounds; the viewer's follows are read from the store
before the clock starts. Run: python -m bench.realgraph.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, shown, write_results
from bench.world import account_table, bench_data_dir, bench_settings, world_arguments
from starling.engagements import Engagements, IdArray
from starling.realgraph import RealGraph, affinity, candidates
from starling.store.base import Store
from starling.store.sqlite import SqliteStore
from starling.workers.realgraph import REBUILD_CHUNK

LIMIT = 300
BATCH = 500  # the worker's batch size


def load(store: Store) -> tuple[Engagements, float]:
    """Every engagement of the world, oldest first, and the seconds the scan took."""
    started = time.perf_counter()
    found = Engagements.concat(tqdm(store.iter_engagements(0, REBUILD_CHUNK), desc="scan"))
    elapsed = time.perf_counter() - started
    return found.take(np.argsort(found.time, kind="stable")), elapsed


def ingest(edges: Engagements, streamed: int) -> tuple[RealGraph, dict[str, float]]:
    """The graph of every edge: all but the last `streamed` in segment-sized chunks,
    those in worker-sized batches."""
    graph = RealGraph()
    bulk = edges.size - streamed
    step = graph.segment_edges
    started = time.perf_counter()
    for i in tqdm(range(0, bulk, step), desc="bulk ingest"):
        graph.add(edges.take(slice(i, min(i + step, bulk))))
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in tqdm(range(bulk, edges.size, BATCH), desc="streamed ingest"):
        graph.add(edges.take(slice(i, i + BATCH)))
    streamed_s = time.perf_counter() - started
    return graph, {"bulk_edges_per_s": bulk / bulk_s, "streamed_edges_per_s": streamed / streamed_s}


def viewers(store: Store, data_dir: Path, count: int, seed: int) -> list[tuple[int, IdArray]]:
    """Random accounts active in the last 7 days with at least one follow, and their
    follows."""
    table = account_table(store, data_dir)
    active = table.ids[table.last_active >= bench_settings(data_dir).active_since()]
    picked: list[tuple[int, IdArray]] = []
    for viewer in np.random.default_rng(seed).permutation(active).tolist():
        follows = store.following(viewer)
        if follows.size:
            picked.append((viewer, follows))
            if len(picked) == count:
                break
    return picked


def time_queries(
    graph: RealGraph, picked: list[tuple[int, IdArray]], rounds: int
) -> dict[str, Any]:
    generation: list[float] = []
    affinities: list[float] = []
    returned: list[int] = []
    for _ in tqdm(range(rounds), desc="queries", unit="round"):
        for viewer, follows in picked:
            started = time.perf_counter()
            found = candidates(graph, viewer, follows, LIMIT)
            generation.append(time.perf_counter() - started)
            started = time.perf_counter()
            affinity(graph, viewer, found.author_ids)
            affinities.append(time.perf_counter() - started)
            returned.append(found.size)
    counts = np.asarray(returned)
    return {
        "queries": len(generation),
        "candidates_ms": milliseconds(generation),
        "affinity_ms": milliseconds(affinities),
        "returned_p50": float(np.median(counts)),
        "returned_full_share": float(np.mean(counts == LIMIT)),
        "returned_none_share": float(np.mean(counts == 0)),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)
    parser.add_argument("--viewers", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streamed", type=int, default=200_000, help="edges in batches of 500")
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    store = SqliteStore(bench_settings(data_dir).store_path)
    try:
        edges, scan_s = load(store)
        graph, rates = ingest(edges, min(args.streamed, edges.size // 2))
        picked = viewers(store, data_dir, args.viewers, args.seed)
    finally:
        store.close()
    snapshot = graph.snapshot()
    results = {
        "size": args.size,
        "engagements": edges.size,
        "scan_s": scan_s,
        "edges": snapshot.size,
        "segments": len(snapshot.segments),
        "bytes_per_edge": snapshot.nbytes / snapshot.size,
        **rates,
        **time_queries(graph, picked, args.rounds),
    }
    print(f"Real graph, {args.size} world. {machine()}\n")
    print(markdown_table(["figure", "value"], [[k, shown(v)] for k, v in results.items()]))
    print(f"\nresults: {write_results('realgraph', results)}")


if __name__ == "__main__":
    main()
