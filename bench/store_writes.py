"""Posts per second through the actions layer, on SQLite and on PostgreSQL.

Each writer thread posts as its own account through `Actions.post` (text checks, the
post row, the author's counts and the `post.created` event in one transaction), with 1
and with 8 threads, in several rounds; no workers run, so this is the store's write path
alone. Both stores are durable: SQLite `synchronous = FULL`, a private PostgreSQL with
fsync on, on the same disk. Run: python -m bench.store_writes. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import bench_settings
from starling.actions import Actions
from starling.cache.backends import open_cache
from starling.ids import IdGenerator
from starling.localpostgres import private_postgres
from starling.store.base import Store
from starling.store.open import SQLITE_PREFIX, open_store

BACKENDS = ("sqlite", "postgres")


@contextmanager
def store_url(backend: str) -> Iterator[str]:
    """A new, empty store of the backend: a SQLite file or a private durable server."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"{SQLITE_PREFIX}{Path(tmp) / 'starling.sqlite3'}"
    else:
        with private_postgres(durable=True) as url:
            yield url


def open_actions(store: Store, data_dir: Path) -> Actions:
    """Actions as the runtime builds them, minus workers: in-process cache roles."""
    settings = bench_settings(data_dir)
    cache = open_cache(None, timeline_capacity=settings.timeline_size)
    return Actions(store, cache, IdGenerator(), settings)


def run_round(
    actions: Actions, authors: Sequence[int], posts_each: int
) -> tuple[float, list[float]]:
    """Every author's thread posts posts_each times; returns wall seconds and latencies."""
    start = threading.Barrier(len(authors) + 1)
    latencies: list[list[float]] = [[] for _ in authors]

    def write(i: int) -> None:
        start.wait()
        for n in range(posts_each):
            began = time.perf_counter()
            actions.post(authors[i], f"post {n} of writer {i} #bench")
            latencies[i].append(time.perf_counter() - began)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(authors))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, [s for mine in latencies for s in mine]


def bench_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with store_url(backend) as url, tempfile.TemporaryDirectory() as data_dir:
        store = open_store(url)
        try:
            actions = open_actions(store, Path(data_dir))
            authors = [actions.register(f"writer{i}", None).id for i in range(max(args.threads))]
            for threads in args.threads:
                results.append(measure(backend, actions, authors[:threads], args))
        finally:
            store.close()
    return results


def measure(
    backend: str, actions: Actions, authors: Sequence[int], args: argparse.Namespace
) -> dict[str, Any]:
    posts_each = args.posts // len(authors)
    run_round(actions, authors, max(1, posts_each // 10))  # warm-up: connections, caches
    rates: list[float] = []
    latencies: list[float] = []
    for _ in range(args.rounds):
        seconds, round_latencies = run_round(actions, authors, posts_each)
        rates.append(len(authors) * posts_each / seconds)
        latencies += round_latencies
    print(f"{backend}, {len(authors)} threads: {np.median(rates):,.0f} posts/s", flush=True)
    return {
        "backend": backend,
        "threads": len(authors),
        "posts_per_round": len(authors) * posts_each,
        "rounds": args.rounds,
        "posts_per_s": {"median": float(np.median(rates)), "min": min(rates), "max": max(rates)},
        "ms": milliseconds(latencies),
    }


def report(results: Sequence[dict[str, Any]]) -> str:
    rows = [
        [
            r["backend"],
            r["threads"],
            r["posts_per_s"]["median"],
            r["posts_per_s"]["min"],
            r["posts_per_s"]["max"],
            r["ms"]["p50"],
            r["ms"]["p99"],
        ]
        for r in results
    ]
    headers = ["store", "writer threads", "posts/s (median)", "min", "max", "p50 ms", "p99 ms"]
    return markdown_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="'sqlite', 'postgres'")
    parser.add_argument("--threads", type=_ints, default=[1, 8], help="comma list, e.g. 1,8")
    parser.add_argument("--posts", type=int, default=800, help="posts per round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    results = [r for backend in args.backends.split(",") for r in bench_backend(backend, args)]
    print(f"Store writes through Actions.post. {machine()}\n")
    print(report(results))
    print(f"\nresults: {write_results('store_writes', {'results': results})}")


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",")]


if __name__ == "__main__":
    main()
