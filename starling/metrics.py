"""Prometheus metrics, served at /metrics. One registry per process.

When the processes of a deployment keep their metrics in files (`starling up` sets
PROMETHEUS_MULTIPROC_DIR for each), /metrics answers for all of them: counters and
histograms are summed, gauges show their most recent value.
Names follow the issue's list; see docs/subsystems/fanout.md for what each means.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry()

FANOUT_TIMELINE_WRITES = Counter(
    "starling_fanout_timeline_writes",
    "Home-timeline entries written by fan-out",
    registry=REGISTRY,
)
WORKER_BACKLOG = Gauge(
    "starling_worker_backlog",
    "Events in the log not yet applied by each worker's group",
    ["worker"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
CELEBRITY_THRESHOLD = Gauge(
    "starling_celebrity_threshold",
    "Follower count at which posts are pulled at read time instead of pushed",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
POST_TO_TIMELINE_SECONDS = Histogram(
    "starling_post_to_timeline_seconds",
    "From a post's creation to its fan-out into followers' timelines",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
TIMELINE_READ_SECONDS = Histogram(
    "starling_timeline_read_seconds",
    "Assembly of one page of the Following (home) timeline",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
WORKER_EVENTS = Counter(
    "starling_worker_events",
    "Events applied by each worker",
    ["worker"],
    registry=REGISTRY,
)
CACHE_DEGRADED = Counter(
    "starling_cache_degraded",
    "Operations that carried on without the cache while it was unavailable",
    ["operation"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "starling_job_runs",
    "Runs of each scheduled job, by outcome (success: it wrote a new version;"
    " too_little_data: the store had too little to learn from yet; failure)",
    ["job", "outcome"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "starling_job_seconds",
    "Duration of each scheduled job's run, successful or not",
    ["job"],
    buckets=(1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0),
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The text format of this process's metrics, or of every process's."""
    if MULTIPROCESS_DIR_ENV not in os.environ:
        return generate_latest(REGISTRY)
    every_process = CollectorRegistry()
    MultiProcessCollector(every_process)  # type: ignore[no-untyped-call]
    return generate_latest(every_process)
