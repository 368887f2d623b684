"""Post-to-visible latency for an author with about 50,000 followers.

On the bench world, the author whose follower count is nearest 50,000 (under the
celebrity threshold, so pushed) posts through the actions layer while the fan-out worker
runs in its thread; the clock stops when the worker has written the post into every
active follower's timeline (its committed offset passes the post's event).
In-process and on Redis. Run: python -m bench.post_to_visible.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from bench.backends import per_backend
from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import (
    bench_data_dir,
    bench_settings,
    cached_audience,
    pushed_author_near,
    world_arguments,
)
from starling.runtime import open_runtime

TARGET_FOLLOWERS = 50_000
POLL_S = 0.0005


def bench_backend(name: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = bench_data_dir(args.size, args.seed)
    runtime = open_runtime(bench_settings(data_dir, redis_url=redis_url), workers="threads")
    try:
        author, followers = pushed_author_near(runtime, data_dir, TARGET_FOLLOWERS)
        audience = cached_audience(runtime, author, f"{name}: follower timelines")
        seconds: list[float] = []
        for i in tqdm(range(args.posts), desc=f"{name}: posts"):
            started = time.perf_counter()
            runtime.actions.post(author, f"post-to-visible {i} #bench")
            while runtime.log.lag("fanout") > 0:
                time.sleep(POLL_S)
            seconds.append(time.perf_counter() - started)
            time.sleep(args.gap)
        check = runtime.cache.timelines.range(int(audience[-1]), limit=1)
        assert check, "the last follower's timeline holds the post"
        return {
            "backend": name,
            "followers": followers,
            "active_followers": len(audience),
            "posts": args.posts,
            "ms": milliseconds(seconds),
        }
    finally:
        runtime.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between posts")
    args = parser.parse_args(argv)
    results = per_backend(args.backends, lambda name, url: bench_backend(name, url, args))
    rows = [
        [
            r["backend"],
            r["followers"],
            r["active_followers"],
            r["posts"],
            r["ms"]["p50"],
            r["ms"]["p99"],
            r["ms"]["max"],
        ]
        for r in results
    ]
    headers = ["backend", "followers", "active (pushed)", "posts", "p50 ms", "p99 ms", "max ms"]
    print(f"Post-to-visible, {args.size} world. {machine()}\n")
    print(markdown_table(headers, rows))
    print(f"\nresults: {write_results('post_to_visible', {'size': args.size, 'results': results})}")


if __name__ == "__main__":
    main()
