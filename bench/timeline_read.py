"""Following timeline read latency on the bench world: 20 posts, celebrity merge included.

Samples active accounts that follow at least one celebrity and have a full first page,
builds each timeline once (the rebuild is reported on its own), then times many reads of
the first page, in-process and on Redis. Server-side, without HTTP: "read" is the
timeline assembly (HomeTimeline.read: viewer id to hydrated posts), "read + render" adds
the Mastodon status entities the API returns. Run: python -m bench.timeline_read.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.backends import per_backend
from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import account_table, bench_data_dir, bench_settings, world_arguments
from starling.api.statuses import Renderer
from starling.runtime import Runtime, open_runtime

PAGE = 20


def sample_viewers(runtime: Runtime, data_dir: Path, count: int, seed: int) -> list[int]:
    """Active accounts following at least one celebrity, at random (timelines not built)."""
    table = account_table(runtime.store, data_dir)
    active_since = runtime.settings.active_since()
    active = table.ids[table.last_active >= active_since]
    rng = np.random.default_rng(seed)
    viewers: list[int] = []
    for viewer in rng.permutation(active).tolist():
        following = runtime.store.following(viewer)
        if len(runtime.cache.celebrities.celebrities_among(following)):
            viewers.append(viewer)
            if len(viewers) == count:
                break
    return viewers


def bench_backend(name: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = bench_data_dir(args.size, args.seed)
    runtime = open_runtime(bench_settings(data_dir, redis_url=redis_url), workers="none")
    try:
        runtime.fanout.warm_celebrity_index()
        rebuild: list[float] = []
        viewers: list[int] = []
        candidates = sample_viewers(runtime, data_dir, 4 * args.viewers, args.seed)
        for viewer in tqdm(candidates, desc=f"{name}: build timelines", unit="viewer"):
            started = time.perf_counter()
            page = runtime.home.read(viewer, limit=PAGE)
            rebuild.append(time.perf_counter() - started)
            if len(page) == PAGE:
                viewers.append(viewer)
                if len(viewers) == args.viewers:
                    break
        reads: list[float] = []
        rendered: list[float] = []
        render = Renderer(runtime.store, runtime.cache.counters, runtime.settings.public_url)
        for _ in tqdm(range(args.rounds), desc=f"{name}: timed reads", unit="round"):
            for viewer in viewers:
                started = time.perf_counter()
                page = runtime.home.read(viewer, limit=PAGE)
                reads.append(time.perf_counter() - started)
                render.statuses(page, viewer)
                rendered.append(time.perf_counter() - started)
        return {
            "backend": name,
            "viewers": len(viewers),
            "reads": len(reads),
            "read_ms": milliseconds(reads),
            "read_render_ms": milliseconds(rendered),
            "rebuild_ms": milliseconds(rebuild),
        }
    finally:
        runtime.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser)
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    results = per_backend(args.backends, lambda name, url: bench_backend(name, url, args))
    rows = [
        [
            r["backend"],
            r["reads"],
            r["read_ms"]["p50"],
            r["read_ms"]["p99"],
            r["read_render_ms"]["p50"],
            r["read_render_ms"]["p99"],
            r["rebuild_ms"]["p50"],
            r["rebuild_ms"]["p99"],
        ]
        for r in results
    ]
    headers = ["backend", "reads of 20", "read p50 ms", "read p99 ms"]
    headers += ["read + render p50 ms", "read + render p99 ms"]
    headers += ["rebuild p50 ms", "rebuild p99 ms"]
    print(f"Following timeline read, {args.size} world. {machine()}\n")
    print(markdown_table(headers, rows))
    print(f"\nresults: {write_results('timeline_read', {'size': args.size, 'results': results})}")


if __name__ == "__main__":
    main()
