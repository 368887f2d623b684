"""Relay lag: from a post's commit in the store to its entry in the Redis Streams log.

Posts go through the actions layer at a steady rate (1,000/s) for 20 s on SQLite, with the
log on a private Redis and the cache in-process (no worker but the relay runs). The relay
runs as a thread of the writing process, woken by each commit, or (`--relay process`) as
`starling worker relay`, which polls the outbox. The commit is stamped by a store commit
listener in the writing thread; a watcher process blocks on XREAD over every partition
stream and stamps each entry as it arrives. Both read the system-wide monotonic clock.
Run: python -m bench.relay_lag.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import redis

from bench.common import machine, markdown_table, milliseconds, write_results
from starling.config import Settings
from starling.eventlog.redis_streams import stream_keys
from starling.events import PostCreated
from starling.localredis import private_redis
from starling.runtime import open_runtime

PREFIX = "bench:"
AUTHORS = 1_000
WATCH_BLOCK_MS = 200
PATIENCE_S = 60.0


def watch(url: str, keys: list[str], conn: Connection) -> None:
    """In a process of its own: stamps every post entry as it arrives, until told how many
    posts to expect and all of them arrived; then sends {post id: arrival}."""
    client = redis.Redis.from_url(url, decode_responses=True)
    last: dict[Any, Any] = dict.fromkeys(keys, "0")
    arrived: dict[int, float] = {}
    expected: int | None = None
    conn.send("ready")
    while expected is None or len(arrived) < expected:
        if expected is None and conn.poll():
            expected = conn.recv()
        reply: list[tuple[str, list[tuple[str, dict[str, str]]]]] = cast(
            Any, client.xread(last, block=WATCH_BLOCK_MS)
        )
        for key, entries in reply or []:
            now = time.monotonic()
            for entry_id, fields in entries:
                last[key] = entry_id
                if fields["type"] == PostCreated.TYPE:
                    arrived[json.loads(fields["payload"])["id"]] = now
    conn.send(arrived)


def post_steadily(
    settings: Settings, rate: float, duration: float
) -> tuple[dict[int, float], float]:
    """Posts at `rate` per second for `duration` seconds; returns {post id: commit} and the
    rate achieved."""
    runtime = open_runtime(settings, workers="threads")
    try:
        authors = [runtime.actions.register(f"author{i}", None).id for i in range(AUTHORS)]
        stamp = threading.local()
        runtime.store.add_commit_listener(lambda: setattr(stamp, "at", time.monotonic()))
        committed: dict[int, float] = {}
        total = int(rate * duration)
        started = time.monotonic()
        for i in range(total):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            post = runtime.actions.post(authors[i % AUTHORS], f"relayed {i}")
            committed[post.id] = stamp.at
        achieved = total / (time.monotonic() - started)
        deadline = time.monotonic() + PATIENCE_S
        while runtime.outbox.lag("relay") and time.monotonic() < deadline:
            time.sleep(0.05)  # the relay catches up before this process stops it
        return committed, achieved
    finally:
        runtime.close()


def relay_process(settings: Settings) -> subprocess.Popen[bytes]:
    options = ["--data-dir", str(settings.data_dir), "--log-url", str(settings.log_url)]
    options += ["--redis-prefix", settings.redis_prefix]
    return subprocess.Popen([sys.executable, "-m", "starling.cli", "worker", "relay", *options])


def bench_relay(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, private_redis(Path(tmp) / "redis") as url:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            log_url=url,
            redis_prefix=PREFIX,
            rate_limits="off",
            workers="relay" if mode == "thread" else "none",
        )
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        watcher = context.Process(
            target=watch, args=(url, stream_keys(PREFIX, settings.log_partitions), theirs)
        )
        watcher.start()
        assert ours.recv() == "ready"
        relay = relay_process(settings) if mode == "process" else None
        try:
            committed, achieved = post_steadily(settings, args.rate, args.duration)
            ours.send(len(committed))
            if not ours.poll(PATIENCE_S):
                raise RuntimeError("posts missing from the streams")
            arrived: dict[int, float] = ours.recv()
        finally:
            if relay is not None:
                relay.terminate()
                relay.wait()
            watcher.join(PATIENCE_S)
    lags = [arrived[post] - at for post, at in committed.items()]
    return {"relay": mode, "posts": len(lags), "rate": achieved, "ms": milliseconds(lags)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1_000.0, help="posts per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of posting")
    parser.add_argument("--relay", default="thread,process", help="'thread' and/or 'process'")
    args = parser.parse_args(argv)
    results = [bench_relay(mode, args) for mode in args.relay.split(",")]
    rows = [
        [r["relay"], r["posts"], r["rate"], r["ms"]["p50"], r["ms"]["p99"], r["ms"]["max"]]
        for r in results
    ]
    headers = ["relay", "posts", "posts/s achieved", "p50 ms", "p99 ms", "max ms"]
    print(f"Relay lag, outbox commit to stream entry. {machine()}\n")
    print(markdown_table(headers, rows))
    print(f"\nresults: {write_results('relay_lag', {'results': results})}")


if __name__ == "__main__":
    main()
