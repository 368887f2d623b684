"""Fan-out write throughput of the timeline cache: in-process, on a private Redis and on a
private Redis Cluster of three masters.

Creates `--users` timelines holding a few entries each, then pushes one new post at a
time to a chunk of 5,000 random users, many times; reports inserts/s of the median and
of the p99 (slow) push. On Redis it also reports the server CPU per insert (the push
script's time in INFO commandstats, summed over the servers) and the client CPU per
insert, and from them the rate the servers could sustain with a core each. Run:
python -m bench.fanout_throughput. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.backends import per_backend
from bench.common import machine, markdown_table, summarize, write_results
from starling.cache.backends import connect, open_cache
from starling.cache.base import IdArray, TimelineCache
from starling.cache.servers import Servers
from starling.ids import IdGenerator

WARMUP_PUSHES = 5
FIRST_USER = 10**15  # snowflake-sized user ids
PUSH_COMMAND = "cmdstat_eval"  # the push script; fill() writes with EVALSHA, not counted


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="timelines created")
    parser.add_argument("--entries", type=int, default=3, help="entries per timeline at start")
    parser.add_argument("--chunk", type=int, default=5_000, help="users per push")
    parser.add_argument("--runs", type=int, default=300, help="timed pushes per backend")
    parser.add_argument("--capacity", type=int, default=800, help="entries kept per timeline")
    parser.add_argument(
        "--backends",
        default="memory,redis,cluster",
        help="comma list of 'memory', 'redis' and 'cluster'",
    )
    return parser.parse_args(argv)


def fill(timelines: TimelineCache, users: IdArray, entries: int, ids: IdGenerator) -> None:
    for user in users.tolist():
        posts = [ids.next_id() for _ in range(entries)]
        timelines.replace(user, [(post, post) for post in posts])


def push_all(
    timelines: TimelineCache,
    users: IdArray,
    pushes: int,
    args: argparse.Namespace,
    ids: IdGenerator,
) -> list[float]:
    """Seconds per push of one post to a random chunk of users."""
    rng = np.random.default_rng(pushes)
    seconds = []
    for _ in range(pushes):
        chunk = rng.choice(users, args.chunk, replace=False)
        post = ids.next_id()
        start = time.perf_counter()
        written = timelines.push(chunk, post, post)
        seconds.append(time.perf_counter() - start)
        assert written == args.chunk, "every chosen timeline exists"
    return seconds


def cpu_usec(servers: Servers | None) -> dict[str, float]:
    """CPU microseconds so far: the client process's; inside the push script on the
    servers (INFO commandstats, elapsed time of the calls); and of the whole server
    processes (INFO cpu). Server figures are summed over the servers."""
    used = {"client": 1e6 * time.process_time(), "script": 0.0, "server": 0.0}
    if servers is not None:
        commands = servers.info("commandstats")
        used["script"] = sum(node.get(PUSH_COMMAND, {}).get("usec", 0) for node in commands)
        cpu = servers.info("cpu")
        used["server"] = 1e6 * sum(node["used_cpu_user"] + node["used_cpu_sys"] for node in cpu)
    return used


def bench_backend(name: str, redis_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    cache = open_cache(redis_url, timeline_capacity=args.capacity)
    servers = None if redis_url is None else connect(redis_url)
    try:
        users = np.arange(FIRST_USER, FIRST_USER + args.users, dtype=np.int64)
        ids = IdGenerator()
        fill(cache.timelines, users, args.entries, ids)
        push_all(cache.timelines, users, WARMUP_PUSHES, args, ids)
        before = cpu_usec(servers)
        seconds = summarize(push_all(cache.timelines, users, args.runs, args, ids))
        after = cpu_usec(servers)
        inserts = args.runs * args.chunk
        return {
            "backend": name,
            "servers": 0 if servers is None else len(servers.info("server")),
            "inserts_per_s_p50": args.chunk / seconds["p50"],
            "inserts_per_s_p99": args.chunk / seconds["p99"],
            "ms_per_push_p50": 1000 * seconds["p50"],
            "ms_per_push_p99": 1000 * seconds["p99"],
            **{f"{k}_us_per_insert": (after[k] - before[k]) / inserts for k in after},
            "memory_mb": cache.timelines.memory_bytes() / 1e6,
        }
    finally:
        cache.close()
        if servers is not None:
            servers.close()


def with_a_core_per_server(result: dict[str, Any]) -> dict[str, Any]:
    """Computed, not measured: the inserts/s of the servers if each ran its share of the
    inserts on a core of its own, kept busy by enough clients. From the server processes'
    CPU time, and from the script's time in commandstats (which also counts the time a
    server waited for a core while running the script)."""
    servers = result["servers"]
    return result | {
        "computed_inserts_per_s_from_cpu": servers * 1e6 / result["server_us_per_insert"],
        "computed_inserts_per_s_from_script": servers * 1e6 / result["script_us_per_insert"],
    }


def throughput_table(results: list[dict[str, Any]]) -> str:
    headers = ["backend", "inserts/s (p50 push)", "inserts/s (p99 push)", "ms p50", "ms p99"]
    keys = ["inserts_per_s_p50", "inserts_per_s_p99", "ms_per_push_p50", "ms_per_push_p99"]
    return markdown_table(headers, [[r["backend"], *(r[k] for k in keys)] for r in results])


def server_table(results: list[dict[str, Any]]) -> str:
    headers = ["backend", "servers", "client CPU µs/insert", "script µs/insert (commandstats)"]
    headers += ["server CPU µs/insert (INFO cpu)", "computed: a core per server, from CPU"]
    headers += ["computed: from script time"]
    keys = ["servers", "client_us_per_insert", "script_us_per_insert", "server_us_per_insert"]
    keys += ["computed_inserts_per_s_from_cpu", "computed_inserts_per_s_from_script"]
    return markdown_table(headers, [[r["backend"], *(r[k] for k in keys)] for r in results])


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    results = per_backend(args.backends, lambda name, url: bench_backend(name, url, args))
    on_redis = [with_a_core_per_server(r) for r in results if r["servers"]]
    print(f"Fan-out throughput: {args.users:,} timelines, chunks of {args.chunk:,} users,")
    print(f"{args.runs} pushes per backend. {machine()}\n")
    print(throughput_table(results))
    if on_redis:
        print("\nServer work per insert, summed over the servers:\n")
        print(server_table(on_redis))
    everything = [*(r for r in results if not r["servers"]), *on_redis]
    path = write_results("fanout_throughput", {"settings": vars(args), "results": everything})
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
