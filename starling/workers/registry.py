"""Every log consumer, by name: the one list that `Runtime`, `starling worker NAME` and
`STARLING_WORKERS` read. A new worker (search indexer, trends) is one entry here.
See docs/subsystems/workers.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starling.cache.backends import CacheBackends
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.fanout_policy import ThresholdPolicy
from starling.store.base import Store
from starling.workers.base import Worker
from starling.workers.counts import CountsWorker
from starling.workers.fanout import FanoutWorker
from starling.workers.graph import GraphWorker


@dataclass(frozen=True)
class WorkerDeps:
    """What a worker may be built from."""

    log: EventLog
    store: Store
    cache: CacheBackends
    settings: Settings
    policy: ThresholdPolicy


WORKERS: dict[str, Callable[[WorkerDeps], Worker]] = {
    "fanout": lambda d: FanoutWorker(d.log, d.store, d.cache, d.policy, d.settings),
    "graph": lambda d: GraphWorker(d.log, d.store, d.cache),
    "counts": lambda d: CountsWorker(d.log, d.store, d.cache),
}


def chosen(spec: str) -> list[str]:
    """Worker names of a setting: 'all', 'none' or a comma list; refuses unknown names."""
    spec = spec.strip()
    if spec == "all":
        return list(WORKERS)
    names = {n.strip() for n in spec.split(",")} - {"none", ""}
    unknown = names - set(WORKERS)
    if unknown:
        raise ValueError(f"unknown workers {sorted(unknown)}; choose from {list(WORKERS)}")
    return sorted(names)
