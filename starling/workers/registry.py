"""Every log consumer, by name: the one list that `Runtime`, `starling worker NAME` and
`STARLING_WORKERS` read. A new worker (search indexer, trends) is one entry here.
See docs/subsystems/workers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from starling.cache.backends import CacheBackends
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.eventlog.outbox import OutboxLog
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.fanout_policy import ThresholdPolicy
from starling.foryou.precompute import PrecomputeWorker, Precomputing
from starling.ranking.state import FeatureState
from starling.realgraph import RealGraph
from starling.simclusters.index import open_index
from starling.store.base import Store
from starling.twhin.embeddings import newest
from starling.workers.base import Worker
from starling.workers.counts import CountsWorker
from starling.workers.fanout import FanoutWorker
from starling.workers.features import FeatureWorker
from starling.workers.graph import GraphWorker
from starling.workers.realgraph import RealGraphWorker
from starling.workers.relay import RelayWorker
from starling.workers.simclusters import SimClustersWorker
from starling.workers.twhin import TwhinWorker

RELAY = RelayWorker.name
# Workers that feed this process's memory for readers here: never a process of their own.
IN_PROCESS = (
    RealGraphWorker.name,
    SimClustersWorker.name,
    TwhinWorker.name,
    FeatureWorker.name,
    PrecomputeWorker.name,
)
# Workers that write cache roles: a process of their own needs the shared Redis.
SHARED_CACHE = (FanoutWorker.name, GraphWorker.name)


@dataclass(frozen=True)
class WorkerDeps:
    """What a worker may be built from."""

    log: EventLog  # what the workers consume
    outbox: OutboxLog  # the store's outbox: the log itself, or what the relay feeds it from
    store: Store
    cache: CacheBackends
    settings: Settings
    policy: ThresholdPolicy
    realgraph: RealGraph  # the in-process graph its worker writes and the timelines read
    features: FeatureState  # the in-process feature columns its worker writes, For You reads
    # The For You timeline whose active viewers' lists the precompute worker keeps; asked
    # for on use, as it is built after the workers whose state it reads.
    for_you: Callable[[], Precomputing]

    @property
    def relayed(self) -> bool:
        return self.log is not self.outbox


def _relay(d: WorkerDeps) -> Worker:
    if not isinstance(d.log, RedisStreamsLog):
        raise ValueError(f"the relay feeds Redis Streams, not {type(d.log).__name__}")
    return RelayWorker(d.outbox, d.log, d.settings.log_retention_s)


# The relay comes first: in sync mode the others then drain what it has just relayed.
WORKERS: dict[str, Callable[[WorkerDeps], Worker]] = {
    RELAY: _relay,
    "fanout": lambda d: FanoutWorker(d.log, d.store, d.cache, d.policy, d.settings),
    "graph": lambda d: GraphWorker(d.log, d.store, d.cache),
    "counts": lambda d: CountsWorker(d.log, d.store, d.cache),
    "realgraph": lambda d: RealGraphWorker(d.log, d.store, d.realgraph),
    "simclusters": lambda d: SimClustersWorker(d.log, open_index(d.settings.data_dir), d.store),
    "twhin": lambda d: TwhinWorker(d.log, d.store, newest(d.settings.data_dir)),
    "features": lambda d: FeatureWorker(d.log, d.store, d.features),
    "precompute": lambda d: PrecomputeWorker(d.log, d.for_you),
}


def build(deps: WorkerDeps) -> dict[str, Worker]:
    """The workers these deps call for, in registry order: the relay only when the
    workers' log is fed from the outbox."""
    built = {name: make(deps) for name, make in WORKERS.items() if name != RELAY or deps.relayed}
    for name in IN_PROCESS:
        built[name].group = replica_group(name, deps.settings.id_node)
    return built


def replica_group(name: str, node: int) -> str:
    """The consumer group of an in-process worker: each API process of `starling up`
    (node 1, 2, ...) keeps its own copy of the state, so it reads every event in a group
    of its own; a single `starling serve` (node 0) keeps the worker's name."""
    return name if node == 0 else f"{name}@{node}"


def chosen(spec: str, built: Collection[str]) -> list[str]:
    """Built worker names of a setting ('all', 'none' or a comma list), in registry order;
    refuses unknown names and skips known ones that were not built (the relay, with no
    log to feed)."""
    spec = spec.strip()
    names = set(WORKERS) if spec == "all" else {n.strip() for n in spec.split(",")}
    names -= {"none", ""}
    unknown = names - set(WORKERS)
    if unknown:
        raise ValueError(f"unknown workers {sorted(unknown)}; choose from {list(WORKERS)}")
    return [name for name in WORKERS if name in names and name in built]


def cannot_run_alone(name: str, settings: Settings) -> str:
    """Why worker `name` cannot run in a process of its own with these settings, or ""
    (`starling worker NAME` refuses it; `starling up` starts no process for it)."""
    if name == RELAY and settings.log_url is None:
        return "the relay feeds Redis Streams: it runs only with STARLING_LOG_URL set"
    if name in IN_PROCESS:
        return f"{name} feeds its own process's memory: it runs inside each API process"
    if name in SHARED_CACHE and settings.redis_url is None:
        return "a separate worker process needs STARLING_REDIS_URL: the cache must be shared"
    return ""
