"""CPU per Following timeline read, in total and per pipeline step, in-process.

Active viewers of a world at random; each timeline is built by a first read, then every
viewer is read `--rounds` times: `time.process_time` over all the timed reads, and the
runner's trace summed per step (wall time of the steps, on an idle machine close to
their CPU). `--profile` prints cProfile's top functions instead. Run:
python -m bench.timeline_cpu --size demo. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bench.common import machine
from bench.world import account_table, bench_data_dir, bench_settings, world_arguments
from starling.mixer import Page, Query
from starling.runtime import open_runtime

PAGE = 20


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions")
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    runtime = open_runtime(bench_settings(data_dir), workers="none")
    try:
        table = account_table(runtime.store, data_dir)
        active = table.ids[table.last_active >= runtime.settings.active_since()]
        rng = np.random.default_rng(args.seed)
        viewers = rng.permutation(active)[: args.viewers].tolist()
        for viewer in viewers:
            runtime.home.read(viewer, limit=PAGE)
        queries = [Query(v, Page(None, None, None, PAGE)) for v in viewers] * args.rounds
        if args.profile:
            with cProfile.Profile() as profile:
                for query in queries:
                    runtime.home.mix(query)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        steps: dict[str, float] = defaultdict(float)
        started = time.process_time()
        for query in queries:
            for step in runtime.home.mix(query).trace.steps:
                steps[step.id] += step.seconds
        cpu = time.process_time() - started
    finally:
        runtime.close()
    print(f"{len(queries)} reads of {len(viewers)} viewers, {args.size} world. {machine()}")
    print(f"CPU per read: {1000 * cpu / len(queries):.3f} ms")
    for step_id, seconds in steps.items():
        print(f"  {step_id}: {1000 * seconds / len(queries):.3f} ms")


if __name__ == "__main__":
    main()
