"""Wires the roles together: store, event log, cache, actions, timelines and workers.

`open_backends` builds each backend from its URL (open_store, open_outbox or open_log,
open_cache) and `open_runtime` starts a runtime on them; `Runtime` itself only receives
built backends, so tests and tools pass their own (or wrap these). The workers consume
`log`; when that is not the store's outbox (Redis Streams), the relay worker feeds it from
`outbox`. `workers` chooses how log consumers run: "threads" (the default for `starling
serve`: one thread per chosen worker in this process), "sync" (every action drains the
workers, the relay first, before it returns, as tests want), or "none" (workers run
elsewhere, `starling worker NAME`). The real graph (`realgraph`) is a role in this
process's memory, built here unless given, written by its worker and rebuilt from the
store by `start` when that worker runs here. The cache is opened behind its guard
(cache/guarded.py), so a lost Redis surfaces as `CacheUnavailable`, which readers and
actions degrade around. See docs/architecture.md.
"""

from __future__ import annotations

import threading
from typing import Literal, NamedTuple

from starling.actions import Actions
from starling.activity import ActivityMarks
from starling.ads.admin import CampaignAdmin
from starling.ads.catalogue import Catalogue
from starling.ads.placement import PromotedSlots, slots_setting
from starling.cache.backends import CacheBackends, open_cache
from starling.cache.guarded import guard_cache
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.eventlog.open import open_log, open_outbox
from starling.eventlog.outbox import OutboxLog
from starling.fanout_policy import FanoutFlags, FlagsFile, ThresholdPolicy
from starling.foryou.interest_sources import interest_sources
from starling.foryou.realgraph_source import RealGraphIndex, RealGraphSource
from starling.foryou.timeline import ForYouTimeline
from starling.home import HomeTimeline
from starling.ids import IdGenerator
from starling.mixer import Query, Source
from starling.ranking.heavy.fallback import newest_or_shipped
from starling.ranking.heavy.score import ScoreWeights
from starling.ranking.model import newest_model
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.stages import RankingInputs
from starling.ranking.state import FeatureState
from starling.ranking.twhin import TwhinReader
from starling.realgraph import RealGraph
from starling.store.base import Store
from starling.store.open import open_store
from starling.workers import registry
from starling.workers.base import Worker
from starling.workers.fanout import FanoutWorker
from starling.workers.features import FeatureWorker
from starling.workers.realgraph import RealGraphWorker
from starling.workers.simclusters import SimClustersWorker
from starling.workers.twhin import TwhinWorker

WorkerMode = Literal["threads", "sync", "none"]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        log: EventLog,
        cache: CacheBackends,
        *,
        outbox: OutboxLog,
        workers: WorkerMode = "threads",
        realgraph: RealGraph | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.log = log
        self.outbox = outbox
        self.cache = cache
        self.mode = workers
        self.ids = IdGenerator(settings.id_node)
        self.flags = FlagsFile(
            settings.data_dir / "fanout_flags.json",
            FanoutFlags(settings.breaking_news, settings.capacity_raised),
        )
        self.policy = ThresholdPolicy(
            settings, lambda: self.log.lag(FanoutWorker.name), self.flags.read
        )
        # In-process by default: the engagement graph its worker writes and readers here use.
        self.realgraph = realgraph if realgraph is not None else RealGraph()
        self.features = FeatureState()  # in-process, as the real graph: its worker writes it
        deps = registry.WorkerDeps(
            log,
            outbox,
            store,
            cache,
            settings,
            self.policy,
            self.realgraph,
            self.features,
            lambda: self.for_you,
        )
        self.workers: dict[str, Worker] = registry.build(deps)
        self.actions = Actions(
            store,
            cache,
            self.ids,
            settings,
            after_write=self.drain if workers == "sync" else None,
        )
        self.activity = ActivityMarks(store)
        self.home = HomeTimeline(store, cache, self.activity, settings)
        campaigns = Catalogue(store)
        self.ads = CampaignAdmin(store, self.ids, campaigns)
        self.for_you = ForYouTimeline(
            store,
            cache,
            self.activity,
            self.home.ensure_timeline,
            out_of_network=self.out_of_network(),
            budget_scale=settings.foryou_budget_scale,
            ads=PromotedSlots(store, cache, campaigns, slots_setting(settings.ad_slots)),
            ranking=self.ranking_inputs(),
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def out_of_network(self) -> list[Source[Query]]:
        """For You's out-of-network sources over this process's in-memory state: the real
        graph, then the interest-based ones (SimClusters, TwHIN)."""
        return [RealGraphSource(RealGraphIndex(self.realgraph)), *interest_sources(self.workers)]

    def ranking_inputs(self) -> RankingInputs:
        simclusters = self.workers[SimClustersWorker.name]
        twhin = self.workers[TwhinWorker.name]
        assert isinstance(simclusters, SimClustersWorker) and isinstance(twhin, TwhinWorker)
        return RankingInputs(
            features=self.features,
            realgraph=self.realgraph,
            simclusters=SimClustersReader(simclusters.index, simclusters.posts, self.realgraph),
            twhin=TwhinReader(twhin.embeddings, self.realgraph),
            light=newest_model(self.settings.data_dir),
            heavy=newest_or_shipped(self.settings.data_dir),
            weights=ScoreWeights.of(self.settings),
        )

    @property
    def fanout(self) -> FanoutWorker:
        worker = self.workers[FanoutWorker.name]
        assert isinstance(worker, FanoutWorker)
        return worker

    def start(self) -> None:
        """Readies derived state and, in "threads" mode, starts the chosen workers."""
        self.ids.observe(self.store.max_post_id())
        self.policy.current()  # publishes the threshold gauge from the start
        if self.settings.redis_url is None:
            self.fanout.warm_celebrity_index()  # the in-process index died with the last run
        chosen = registry.chosen(self.settings.workers, self.workers)
        if RealGraphWorker.name in chosen and self.mode != "none":
            self.realgraph_worker.rebuild()  # the in-process graph died with the last run
        if FeatureWorker.name in chosen and self.mode != "none":
            features = self.workers[FeatureWorker.name]
            assert isinstance(features, FeatureWorker)
            features.rebuild()  # the in-process feature state died with the last run
        if self.mode == "threads":
            for name in chosen:
                self._start_thread(self.workers[name])

    @property
    def realgraph_worker(self) -> RealGraphWorker:
        worker = self.workers[RealGraphWorker.name]
        assert isinstance(worker, RealGraphWorker)
        return worker

    def _start_thread(self, worker: Worker) -> None:
        thread = threading.Thread(
            target=worker.run_forever, args=(self._stop,), name=worker.name, daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def drain(self) -> None:
        """Applies every pending event in every worker (tests, benchmarks, sync mode),
        the relay first. A worker that fails (its backend is down) does not hold the others
        back; the first failure is raised once all have run."""
        failure: Exception | None = None
        for worker in self.workers.values():
            try:
                worker.drain()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self.workers.values():
            worker.release()
        self.home.runner.close()
        self.for_you.close()
        # The logs first: the outbox writes its held-back positions through the store.
        self.log.close()
        if self.outbox is not self.log:
            self.outbox.close()
        self.cache.close()
        self.store.close()


class Backends(NamedTuple):
    store: Store
    outbox: OutboxLog  # the store's own log: the workers' log, or what the relay reads
    log: EventLog  # what the workers consume
    cache: CacheBackends


def open_backends(settings: Settings) -> Backends:
    """The store, its outbox, the workers' log and the cache roles (behind their guard)
    from the settings."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_location)
    outbox = open_outbox(store, claim_after_s=settings.log_claim_after_s)
    log: EventLog = outbox
    if settings.log_url is not None:
        log = open_log(
            settings.log_url,
            store,
            claim_after_s=settings.log_claim_after_s,
            partitions=settings.log_partitions,
            key_prefix=settings.redis_prefix,
        )
    cache = open_cache(
        settings.redis_url,
        timeline_capacity=settings.timeline_size,
        key_prefix=settings.redis_prefix,
    )
    return Backends(store, outbox, log, guard_cache(cache))


def open_runtime(settings: Settings, *, workers: WorkerMode = "threads") -> Runtime:
    """Builds every backend from the settings' URLs, then starts the runtime."""
    store, outbox, log, cache = open_backends(settings)
    runtime = Runtime(settings, store, log, cache, outbox=outbox, workers=workers)
    runtime.start()
    return runtime
