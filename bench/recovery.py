"""Recovery after Redis returns: from the restart of a killed redis-server until fan-out
has caught up with the posts made while it was down.

On the bench world, SQLite store and a private Redis, with the workers in threads as
`starling serve` runs them. The author whose follower count is nearest 50,000 (pushed)
has a cached timeline for each active follower; one of them is the probe. Each run:
the probe reads its home timeline, Redis is killed (SIGKILL), the author posts `--posts`
times `--gap` apart (each post commits and answers; fan-out fails and retries), and after
a random pause of up to `--jitter` seconds (so that the restart falls anywhere in the
worker's retry period) Redis is restarted on the same port. The clock runs from the
restart until the fan-out backlog is zero and the probe's home read is served from a
cached timeline holding every post of the outage. Two ways back:
  kept  Redis restarts with its data (append-only file, fsync always, rewritten before
        each outage as a long-running server rewrites it): fan-out pushes the backlog
        into the timelines that survived. Each run's posts are then removed from them,
        so every run starts from the same data.
  empty Redis restarts empty (nothing persisted, Starling's default): timelines are
        rebuilt from the store on their next read, fan-out skips the missing ones.
Run: python -m bench.recovery.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import (
    bench_data_dir,
    bench_settings,
    cached_audience,
    pushed_author_near,
    world_arguments,
)
from starling.cache.errors import CacheUnavailable
from starling.localredis import PrivateRedis, private_redis_server
from starling.runtime import Runtime, open_runtime

TARGET_FOLLOWERS = 50_000
POLL_S = 0.005
MODES = {"kept": True, "empty": False}  # mode -> Redis persists its data


def recovered(runtime: Runtime, probe: int, posts: set[int]) -> bool:
    """Fan-out caught up, and the probe's timeline, read as the probe reads it, holds
    the outage's posts in the cache."""
    if runtime.log.lag("fanout"):
        return False
    try:
        runtime.home.read(probe)
        cached = runtime.cache.timelines.range(probe, limit=runtime.cache.timelines.capacity)
    except CacheUnavailable:
        return False
    return posts <= set(cached or ())


def compact_aof(url: str) -> None:
    """Rewrites the append-only file, so each restart loads the data, not its history."""
    client = redis.Redis.from_url(url)
    try:
        _wait_for_rewrite(client)
        client.bgrewriteaof()
        _wait_for_rewrite(client)
    finally:
        client.close()


def _wait_for_rewrite(client: redis.Redis) -> None:
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(POLL_S)


def one_outage(
    runtime: Runtime,
    server: PrivateRedis,
    author: int,
    probe: int,
    args: argparse.Namespace,
    rng: random.Random,
) -> tuple[float, float, set[int]]:
    """Seconds from the restart until Redis answers, and until recovered; the posts."""
    runtime.home.read(probe)
    if server.persist:
        compact_aof(server.url)
    server.kill()
    posts: set[int] = set()
    for i in range(args.posts):
        posts.add(runtime.actions.post(author, f"during an outage {i} #bench").id)
        time.sleep(args.gap)
    time.sleep(rng.uniform(0, args.jitter))
    started = time.perf_counter()
    server.restart()
    answered = time.perf_counter() - started
    while not recovered(runtime, probe, posts):
        time.sleep(POLL_S)
    return answered, time.perf_counter() - started, posts


def forget(runtime: Runtime, audience: Sequence[int], posts: set[int]) -> None:
    """Removes an outage's posts from the kept timelines, which would otherwise grow (and
    take longer to load) with every run."""
    for follower in audience:
        runtime.cache.timelines.remove(follower, sorted(posts))


def bench_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = bench_data_dir(args.size, args.seed)
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_redis_server(Path(tmp), persist=MODES[mode]) as server,
    ):
        runtime = open_runtime(bench_settings(data_dir, redis_url=server.url), workers="threads")
        try:
            author, followers = pushed_author_near(runtime, data_dir, TARGET_FOLLOWERS)
            audience = cached_audience(runtime, author, f"{mode}: follower timelines")
            probe = int(audience[-1])
            rng = random.Random(args.seed)
            answered, recovered = [], []
            for run in tqdm(range(args.runs + 1), desc=f"{mode}: outages"):
                up, back, posts = one_outage(runtime, server, author, probe, args, rng)
                if server.persist:
                    forget(runtime, audience.tolist(), posts)
                if run:  # the first is a warm-up
                    answered.append(up)
                    recovered.append(back)
        finally:
            runtime.close()
    return {
        "mode": mode,
        "followers": followers,
        "active_followers": len(audience),
        "posts": args.posts,
        "outage_s": args.posts * args.gap,
        "runs": args.runs,
        "redis_answers_ms": milliseconds(answered),
        "recovered_ms": milliseconds(recovered),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)
    parser.add_argument("--modes", default="kept,empty", help="'kept' and/or 'empty'")
    parser.add_argument("--runs", type=int, default=30, help="outages per mode")
    parser.add_argument("--posts", type=int, default=20, help="posts during each outage")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between those posts")
    parser.add_argument("--jitter", type=float, default=1.0, help="most seconds before restart")
    args = parser.parse_args(argv)
    # Every failed retry during an outage logs a warning; the table is what matters here.
    logging.getLogger("starling").setLevel(logging.ERROR)
    results = [bench_mode(mode, args) for mode in args.modes.split(",")]
    rows = [
        [
            r["mode"],
            r["active_followers"],
            r["posts"],
            r["runs"],
            r["redis_answers_ms"]["p50"],
            r["recovered_ms"]["p50"],
            r["recovered_ms"]["p99"],
            r["recovered_ms"]["max"],
        ]
        for r in results
    ]
    headers = [
        "Redis returns",
        "active followers",
        "posts in outage",
        "runs",
        "answers PING p50 ms",
        "recovered p50 ms",
        "p99 ms",
        "max ms",
    ]
    print(f"Recovery after Redis returns, {args.size} world. {machine()}\n")
    print(markdown_table(headers, rows))
    print(f"\nresults: {write_results('recovery', {'size': args.size, 'results': results})}")


if __name__ == "__main__":
    main()
