"""Fan-out write throughput of the timeline cache, in-process and on a private Redis.

Creates `--users` timelines holding a few entries each, then pushes one new post at a
time to a chunk of 5,000 random users, many times; reports inserts/s of the median and
of the p99 (slow) push. Run: python -m bench.fanout_throughput. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.backends import per_backend
from bench.common import machine, markdown_table, summarize, write_results
from starling.cache.backends import open_cache
from starling.cache.base import IdArray, TimelineCache
from starling.ids import IdGenerator

WARMUP_PUSHES = 5
FIRST_USER = 10**15  # snowflake-sized user ids


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="timelines created")
    parser.add_argument("--entries", type=int, default=3, help="entries per timeline at start")
    parser.add_argument("--chunk", type=int, default=5_000, help="users per push")
    parser.add_argument("--runs", type=int, default=300, help="timed pushes per backend")
    parser.add_argument("--capacity", type=int, default=800, help="entries kept per timeline")
    parser.add_argument(
        "--backends", default="memory,redis", help="comma list of 'memory' and 'redis'"
    )
    return parser.parse_args(argv)


def fill(timelines: TimelineCache, users: IdArray, entries: int, ids: IdGenerator) -> None:
    for user in users.tolist():
        posts = [ids.next_id() for _ in range(entries)]
        timelines.replace(user, [(post, post) for post in posts])


def timed_pushes(
    timelines: TimelineCache, users: IdArray, args: argparse.Namespace, ids: IdGenerator
) -> list[float]:
    """Seconds per push of one post to a random chunk of users (warm-up pushes dropped)."""
    rng = np.random.default_rng(0)
    seconds = []
    for _ in range(WARMUP_PUSHES + args.runs):
        chunk = rng.choice(users, args.chunk, replace=False)
        post = ids.next_id()
        start = time.perf_counter()
        written = timelines.push(chunk, post, post)
        seconds.append(time.perf_counter() - start)
        assert written == args.chunk, "every chosen timeline exists"
    return seconds[WARMUP_PUSHES:]


def bench_backend(name: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    cache = open_cache(redis_url, timeline_capacity=args.capacity)
    try:
        users = np.arange(FIRST_USER, FIRST_USER + args.users, dtype=np.int64)
        ids = IdGenerator()
        fill(cache.timelines, users, args.entries, ids)
        seconds = summarize(timed_pushes(cache.timelines, users, args, ids))
        return {
            "backend": name,
            "inserts_per_s_p50": args.chunk / seconds["p50"],
            "inserts_per_s_p99": args.chunk / seconds["p99"],
            "ms_per_push_p50": 1000 * seconds["p50"],
            "ms_per_push_p99": 1000 * seconds["p99"],
            "memory_mb": cache.timelines.memory_bytes() / 1e6,
        }
    finally:
        cache.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    results = per_backend(args.backends, lambda name, url: bench_backend(name, url, args))
    headers = ["backend", "inserts/s (p50 push)", "inserts/s (p99 push)", "ms p50", "ms p99"]
    rows = [
        [
            r["backend"],
            r["inserts_per_s_p50"],
            r["inserts_per_s_p99"],
            r["ms_per_push_p50"],
            r["ms_per_push_p99"],
        ]
        for r in results
    ]
    print(f"Fan-out throughput: {args.users:,} timelines, chunks of {args.chunk:,} users,")
    print(f"{args.runs} pushes per backend. {machine()}\n")
    print(markdown_table(headers, rows))
    path = write_results("fanout_throughput", {"settings": vars(args), "results": results})
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
