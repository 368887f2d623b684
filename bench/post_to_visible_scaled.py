"""Post-to-visible latency on the scale-out stack: PostgreSQL store, Redis Streams log,
Redis cache, for an author with 50,000 active followers.

A private PostgreSQL (durable) and a private Redis are started; the author and its
followers are bulk-loaded into the store. The runtime runs the relay and the fan-out
worker as threads, as `starling serve` does. Each post goes through the actions layer; the
clock stops when the relay has moved it into the streams and the fan-out group has
applied it (every follower's timeline holds it). Run: python -m bench.post_to_visible_scaled.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import cached_audience
from starling.config import Settings
from starling.ids import IdGenerator, now_ms
from starling.localpostgres import private_postgres
from starling.localredis import private_redis
from starling.model import Account, Follow
from starling.runtime import Runtime, open_runtime
from starling.store.open import open_store

POLL_S = 0.0005


def load_audience(store_url: str, followers: int) -> tuple[int, list[int]]:
    """Bulk-loads an author and `followers` active accounts following it."""
    ids = IdGenerator()
    now = now_ms()
    author = Account(ids.next_id(), "author", "author", now, followers_count=followers)
    fans = [
        Account(ids.next_id(), f"fan{i}", f"fan{i}", now, following_count=1, last_active_at=now)
        for i in range(followers)
    ]
    store = open_store(store_url)
    try:
        store.bulk_load(
            accounts=[author, *fans],
            follows=[Follow(fan.id, author.id, now) for fan in fans],
        )
    finally:
        store.close()
    return author.id, [fan.id for fan in fans]


def caught_up(runtime: Runtime) -> bool:
    return runtime.outbox.lag("relay") == 0 and runtime.log.lag("fanout") == 0


def run(args: argparse.Namespace) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        private_postgres(durable=True) as store_url,
        private_redis(Path(tmp)) as redis_url,
    ):
        author, fans = load_audience(store_url, args.followers)
        settings = Settings(
            data_dir=Path(tmp) / "data",
            store_url=store_url,
            log_url=redis_url,
            redis_url=redis_url,
            rate_limits="off",
        )
        runtime = open_runtime(settings, workers="threads")
        try:
            cached_audience(runtime, author, "follower timelines")
            seconds: list[float] = []
            for i in tqdm(range(args.posts), desc="posts"):
                started = time.perf_counter()
                post = runtime.actions.post(author, f"post-to-visible {i} #bench")
                while not caught_up(runtime):
                    time.sleep(POLL_S)
                seconds.append(time.perf_counter() - started)
                assert runtime.cache.timelines.range(fans[-1], limit=1) == [post.id]
                time.sleep(args.gap)
        finally:
            runtime.close()
    return {"followers": args.followers, "posts": args.posts, "ms": milliseconds(seconds)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=50_000)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between posts")
    args = parser.parse_args(argv)
    result = run(args)
    ms = result["ms"]
    assert isinstance(ms, dict)
    print(f"Post-to-visible on PostgreSQL + Redis Streams + Redis. {machine()}\n")
    headers = ["followers (all active)", "posts", "p50 ms", "p99 ms", "max ms"]
    row = [result["followers"], result["posts"], ms["p50"], ms["p99"], ms["max"]]
    print(markdown_table(headers, [row]))
    print(f"\nresults: {write_results('post_to_visible_scaled', result)}")


if __name__ == "__main__":
    main()
