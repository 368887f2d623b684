"""HTTP throughput of the API from outside: requests per second and latency of home
timeline reads and of posts, at several concurrencies, on the demo world.

Each configuration serves a fresh copy of the demo world on a free loopback port with
rate limits off: "demo" is what `make run` starts (`starling demo`: one process, workers
as threads, in-process cache); "up" is `starling up --api N` (N API processes and the
worker processes) on a private Redis. The load generator is closed-loop (each connection
sends its next request when the last one is answered) and runs in this process, on the
same two cores as the server. Run: python -m bench.http_load. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import http_client
from bench.common import machine, markdown_table, milliseconds, write_results
from bench.http_client import Call
from bench.http_server import Server, serving
from bench.world import bench_data_dir
from starling.localredis import private_redis

ENDPOINTS = ("home", "post")


def call_maker(endpoint: str, tokens: list[str]) -> Callable[[int], Call]:
    """The n-th request of a run: the people take turns."""
    if endpoint == "home":
        return lambda n: Call("GET", "/api/v1/timelines/home?limit=20", tokens[n % len(tokens)])
    return lambda n: Call(
        "POST", "/api/v1/statuses", tokens[n % len(tokens)], f"status=bench+post+{n}".encode()
    )


@contextmanager
def configuration(name: str, args: argparse.Namespace, scratch: Path) -> Iterator[Server]:
    world = bench_data_dir("demo", args.seed)
    options = ["--access-log", args.access_log] if args.access_log else []
    if name == "demo":
        with serving(
            world, scratch, ["demo", *options], tokens=args.tokens, seed=args.seed
        ) as server:
            yield server
        return
    with private_redis(scratch / "redis") as redis_url:
        command = ["up", "--api", str(args.api), "--redis", redis_url, *options]
        with serving(world, scratch, command, tokens=args.tokens, seed=args.seed) as server:
            yield server


def measure(server: Server, endpoint: str, concurrency: int, args: argparse.Namespace) -> Any:
    runs = []
    cpu_ms: list[float] = []
    for _ in range(args.repeats):
        cpu_before = server.cpu_seconds()
        run = http_client.run(
            server.url,
            call_maker(endpoint, server.tokens),
            concurrency=concurrency,
            seconds=args.seconds,
            warmup_s=args.warmup,
        )
        runs.append(run)
        requests = len(run.latencies) + sum(run.errors.values()) + run.warmup_requests
        cpu_ms.append(1000 * (server.cpu_seconds() - cpu_before) / max(requests, 1))
    latencies = [s for run in runs for s in run.latencies]
    errors: dict[str, int] = {}
    for run in runs:
        for kind, count in run.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    return {
        "endpoint": endpoint,
        "concurrency": concurrency,
        "requests": len(latencies),
        "rate": statistics.median(run.rate for run in runs),
        "rates": [run.rate for run in runs],
        "ms": milliseconds(latencies) if latencies else {},
        "server_cpu_ms": statistics.median(cpu_ms),
        "errors": errors,
    }


def bench_configuration(name: str, args: argparse.Namespace) -> list[Any]:
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp, configuration(name, args, Path(tmp)) as server:
        rows = []
        for endpoint in args.endpoints.split(","):
            for concurrency in levels:
                row = measure(server, endpoint, concurrency, args)
                print(f"{name} {endpoint} c={concurrency}: {row['rate']:.0f} req/s", flush=True)
                rows.append({"configuration": name, **row})
        return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configurations", default="demo,up", help="'demo' and/or 'up'")
    parser.add_argument("--api", type=int, default=2, help="API processes of 'up'")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--concurrency", default="1,8,32", help="comma list of connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured time per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell")
    parser.add_argument("--tokens", type=int, default=200, help="people taking turns")
    parser.add_argument("--access-log", default=None, help="'on' or 'off' (server default)")
    parser.add_argument("--seed", type=int, default=1, help="demo world seed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    rows = [r for name in args.configurations.split(",") for r in bench_configuration(name, args)]
    table = [
        [
            r["configuration"],
            r["endpoint"],
            r["concurrency"],
            r["requests"],
            r["rate"],
            r["ms"].get("p50", 0.0),
            r["ms"].get("p99", 0.0),
            r["server_cpu_ms"],
            sum(r["errors"].values()),
        ]
        for r in rows
    ]
    headers = ["configuration", "endpoint", "concurrency", "requests", "req/s (median run)"]
    headers += ["p50 ms", "p99 ms", "server CPU ms/request", "errors"]
    load = os.getloadavg()[0]
    print(f"\nHTTP load on the demo world. {machine()}; load average at the end {load:.1f}\n")
    print(markdown_table(headers, table))
    print(f"\nresults: {write_results('http_load', {'results': rows})}")


if __name__ == "__main__":
    main()
