"""`make bench`: every benchmark in turn, each printing its table and saving JSON under
bench/out/. The bench world is generated on first use. See docs/benchmarks.md."""

from __future__ import annotations

from bench import (
    fanout_throughput,
    foryou_quality,
    heavy_ranker,
    http_load,
    post_to_visible,
    post_to_visible_scaled,
    realgraph,
    recovery,
    recovery_postgres,
    relay_lag,
    simclusters,
    store_writes,
    timeline_cpu,
    timeline_read,
    writes_saved,
)

BENCHMARKS = (
    fanout_throughput,
    writes_saved,
    timeline_read,
    timeline_cpu,
    post_to_visible,
    post_to_visible_scaled,
    store_writes,
    relay_lag,
    recovery,
    realgraph,
    http_load,
    recovery_postgres,
    simclusters,
    heavy_ranker,
    foryou_quality,
)


def main() -> None:
    for bench in BENCHMARKS:
        print(f"\n## {bench.__name__}\n", flush=True)
        bench.main([])


if __name__ == "__main__":
    main()
