"""Recovery after PostgreSQL returns: from the restart of a crashed server until a client's
write succeeds again, and until fan-out has caught up with the posts it had not applied.

A private durable PostgreSQL (fsync on) is the store and, through its outbox, the event
log; a private Redis holds the timelines; the workers run in threads as `starling serve`
runs them. An author with `--followers` active followers (bulk-loaded, every timeline
cached) posts `--posts` times, and the server is crashed at once (`pg_ctl stop -m
immediate`), so fan-out is cut off in the middle of its backlog. A client thread keeps
posting through the actions layer, `--gap` apart; each attempt fails with
StoreUnavailable (503 at the API) after waiting up to the pool's 2 s for a connection.
After `--outage` seconds and a random pause of up to `--jitter` seconds (so the restart
falls anywhere in the pool's one-second reconnection cycle) the server is started again
on its port and data, and the process carries on without a restart. The clock runs from
the restart until:
  answers     `pg_ctl start` has returned (crash recovery done, connections accepted);
  first write the client's first post after the restart has committed;
  caught up   the fan-out backlog is zero and a follower's cached timeline holds every
              post acknowledged before the crash and the client's first one after it.
Run: python -m bench.recovery_postgres.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.post_to_visible_scaled import load_audience
from bench.world import cached_audience
from starling.config import Settings
from starling.localpostgres import LocalPostgres, start_private_postgres
from starling.localredis import private_redis
from starling.runtime import Runtime, open_runtime
from starling.store.base import StoreUnavailable

POLL_S = 0.005


class Client(threading.Thread):
    """Posts as the author until one post commits; counts the attempts refused before."""

    def __init__(self, runtime: Runtime, author: int, gap_s: float) -> None:
        super().__init__(name="client", daemon=True)
        self.runtime = runtime
        self.author = author
        self.gap_s = gap_s
        self.refused = 0
        self.committed: tuple[float, int] | None = None  # perf_counter() and post id

    def run(self) -> None:
        while True:
            try:
                post = self.runtime.actions.post(self.author, "retried through an outage #bench")
            except StoreUnavailable:
                self.refused += 1
                time.sleep(self.gap_s)
                continue
            self.committed = (time.perf_counter(), post.id)
            return


def caught_up(runtime: Runtime, probe: int, posts: set[int]) -> bool:
    """Fan-out applied everything, and the probe's cached timeline holds the posts."""
    try:
        if runtime.log.lag("fanout"):
            return False
    except StoreUnavailable:
        return False
    cached = runtime.cache.timelines.range(probe, limit=runtime.cache.timelines.capacity)
    return posts <= set(cached or ())


def one_outage(
    runtime: Runtime,
    server: LocalPostgres,
    author: int,
    probe: int,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, float]:
    """Seconds from the restart until the server answers, the first write and caught up;
    and the client's attempts refused during the outage."""
    posts = {
        runtime.actions.post(author, f"before a crash {i} #bench").id for i in range(args.posts)
    }
    server.stop("immediate")
    client = Client(runtime, author, args.gap)
    client.start()
    time.sleep(args.outage + rng.uniform(0, args.jitter))
    started = time.perf_counter()
    server.start()
    answered = time.perf_counter() - started
    client.join()
    assert client.committed is not None
    written_at, first = client.committed
    while not caught_up(runtime, probe, posts | {first}):
        time.sleep(POLL_S)
    return {
        "answers": answered,
        "first_write": written_at - started,
        "caught_up": time.perf_counter() - started,
        "refused": float(client.refused),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = start_private_postgres(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp, private_redis(Path(tmp)) as redis_url:
            author, fans = load_audience(server.url, args.followers)
            settings = Settings(
                data_dir=Path(tmp) / "data",
                store_url=server.url,
                redis_url=redis_url,
                rate_limits="off",
            )
            runtime = open_runtime(settings, workers="threads")
            try:
                cached_audience(runtime, author, "follower timelines")
                rng = random.Random(args.seed)
                samples: list[dict[str, float]] = []
                for run in tqdm(range(args.runs + 1), desc="outages"):
                    sample = one_outage(runtime, server, author, fans[-1], args, rng)
                    if run:  # the first is a warm-up
                        samples.append(sample)
            finally:
                runtime.close()
    finally:
        server.remove()
    return {
        "followers": args.followers,
        "posts": args.posts,
        "outage_s": args.outage,
        "runs": args.runs,
        "refused_per_outage": sum(s["refused"] for s in samples) / len(samples),
        **{key: milliseconds([s[key] for s in samples]) for key in MEASURES},
    }


MEASURES = ("answers", "first_write", "caught_up")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=20_000, help="all active")
    parser.add_argument("--runs", type=int, default=30, help="outages")
    parser.add_argument("--posts", type=int, default=5, help="posts just before each crash")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the server is down")
    parser.add_argument("--jitter", type=float, default=1.0, help="most seconds added to it")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between client tries")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    # Every retry during an outage logs a warning (the workers', the pool's reconnections).
    for name in ("starling", "psycopg.pool"):
        logging.getLogger(name).setLevel(logging.ERROR)
    result = run(args)
    row = [result["followers"], result["posts"], result["runs"]]
    for key in MEASURES:
        row += [result[key]["p50"], result[key]["p99"]]
    row.append(result["caught_up"]["max"])
    headers = ["followers (all active)", "posts before the crash", "runs"]
    headers += ["answers p50 ms", "p99 ms", "first write p50 ms", "p99 ms"]
    headers += ["caught up p50 ms", "p99 ms", "max ms"]
    print(f"Recovery after PostgreSQL returns. {machine()}\n")
    print(markdown_table(headers, [row]))
    print(f"\nclient attempts refused per outage: {result['refused_per_outage']:.1f}")
    print(f"results: {write_results('recovery_postgres', result)}")


if __name__ == "__main__":
    main()
