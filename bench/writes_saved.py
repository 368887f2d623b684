"""Timeline writes saved by hybrid fan-out against naive push, over one simulated day.

On the bench world, every author posts for a day: celebrities (at or above the
threshold) 10 to 50 times, as in the seed's table; everyone else at the rate of their
own post history. Each post runs through the real fan-out (FanoutWorker.fan_out: the
threshold policy, the active-follower query, the in-process timeline cache); naive push
is one write per follower per post. Also measured: the cache's memory per active
account, in-process and on Redis. Run: python -m bench.writes_saved.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.common import machine, markdown_table, write_results
from bench.world import (
    AccountTable,
    account_table,
    bench_data_dir,
    bench_settings,
    world_arguments,
)
from starling.cache.backends import open_cache
from starling.events import PostCreated
from starling.ids import IdGenerator, now_ms
from starling.localredis import private_redis
from starling.model import Account, Post
from starling.runtime import open_runtime
from starling.world.spec import SIZES

REDIS_SAMPLE = 2_000


def posts_per_author(table: AccountTable, threshold: int, history_days: float, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    posts = rng.poisson(table.statuses / history_days)
    celebrities = table.followers >= threshold
    posts[celebrities] = rng.integers(10, 51, size=int(celebrities.sum()))
    return posts


def simulate_day(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = bench_data_dir(args.size, args.seed)
    runtime = open_runtime(bench_settings(data_dir), workers="none")
    try:
        table = account_table(runtime.store, data_dir)
        threshold = runtime.policy.current()
        active_since = runtime.settings.active_since()
        active = table.ids[table.last_active >= active_since]
        for user in tqdm(active.tolist(), desc="active timelines", unit="acct"):
            runtime.cache.timelines.replace(user, [])
        posts = posts_per_author(table, threshold, SIZES[args.size].history_days, args.seed)
        ids = IdGenerator()
        celebrity = table.followers >= threshold
        hybrid = {True: 0, False: 0}
        started = time.perf_counter()
        authors = np.flatnonzero(posts)
        for row in tqdm(authors.tolist(), desc="a day of posting", unit="author"):
            author, followers = int(table.ids[row]), int(table.followers[row])
            for _ in range(int(posts[row])):
                post_id = ids.next_id()
                post = Post(id=post_id, author_id=author, text="", created_at=now_ms())
                created = PostCreated.of(post, Account(author, "", "", 0), None)
                fanned = runtime.fanout.fan_out(created, followers, threshold)
                hybrid[bool(celebrity[row])] += fanned.timeline_writes
        seconds = time.perf_counter() - started
        naive = posts * table.followers
        memory = runtime.cache.timelines.memory_bytes()
        redis_per_account = redis_memory_per_account(runtime.cache.timelines, active, args.seed)
        return {
            "accounts": len(table.ids),
            "active_accounts": len(active),
            "celebrities": int(celebrity.sum()),
            "threshold": threshold,
            "posts": int(posts.sum()),
            "celebrity_posts": int(posts[celebrity].sum()),
            "naive_celebrity_writes": int(naive[celebrity].sum()),
            "hybrid_celebrity_writes": hybrid[True],
            "naive_total_writes": int(naive.sum()),
            "hybrid_total_writes": hybrid[True] + hybrid[False],
            "memory_bytes_per_active_account_inprocess": memory / max(1, len(active)),
            "memory_bytes_per_active_account_redis": redis_per_account,
            "simulation_seconds": seconds,
        }
    finally:
        runtime.close()


def redis_memory_per_account(timelines: Any, active: Any, seed: int) -> float:
    """Copies a sample of the day's timelines into a private Redis; MEMORY USAGE each."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(active, min(REDIS_SAMPLE, len(active)), replace=False).tolist()
    with tempfile.TemporaryDirectory() as tmp, private_redis(Path(tmp)) as url:
        cache = open_cache(url, timeline_capacity=timelines.capacity)
        try:
            for user in sample:
                entries = timelines.range(user, limit=timelines.capacity) or []
                cache.timelines.replace(user, [(e, e) for e in entries])
            return float(cache.timelines.memory_bytes()) / max(1, len(sample))
        finally:
            cache.close()


def report(r: dict[str, Any]) -> str:
    def saved(naive: int, hybrid: int) -> str:
        return f"{100 * (1 - hybrid / naive):.2f}%" if naive else "n/a"

    rows = [
        [
            "celebrity posts",
            r["celebrity_posts"],
            r["naive_celebrity_writes"],
            r["hybrid_celebrity_writes"],
            saved(r["naive_celebrity_writes"], r["hybrid_celebrity_writes"]),
        ],
        [
            "all posts",
            r["posts"],
            r["naive_total_writes"],
            r["hybrid_total_writes"],
            saved(r["naive_total_writes"], r["hybrid_total_writes"]),
        ],
    ]
    table = markdown_table(["posts", "count", "naive push writes", "hybrid writes", "saved"], rows)
    memory = markdown_table(
        ["backend", "timeline cache bytes per active account"],
        [
            ["in-process", r["memory_bytes_per_active_account_inprocess"]],
            ["Redis", r["memory_bytes_per_active_account_redis"]],
        ],
    )
    return f"{table}\n\n{memory}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)  # the day runs in-process
    args = parser.parse_args(argv)
    results = simulate_day(args)
    print(f"Writes saved, one simulated day on the {args.size} world. {machine()}\n")
    print(report(results))
    print(f"\nresults: {write_results('writes_saved', {'size': args.size, **results})}")


if __name__ == "__main__":
    main()
