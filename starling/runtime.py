"""Wires the roles together: store, event log, cache, actions, timelines and workers.

`open_runtime` builds each backend from its URL (open_store, open_log, open_cache) and
starts the runtime; `Runtime` itself only receives built backends, so tests and tools
pass their own. `workers` chooses how log consumers run: "threads" (the default for
`starling serve`: one thread per chosen worker in this process), "sync" (every action
drains the workers before it returns, as tests want), or "none" (workers run elsewhere,
`starling worker NAME`). See docs/architecture.md.
"""

from __future__ import annotations

import threading
from typing import Literal

from starling.actions import Actions
from starling.activity import ActivityMarks
from starling.cache.backends import CacheBackends, open_cache
from starling.config import Settings
from starling.eventlog.base import EventLog
from starling.eventlog.open import open_log
from starling.fanout_policy import FanoutFlags, FlagsFile, ThresholdPolicy
from starling.home import HomeTimeline
from starling.ids import IdGenerator
from starling.store.base import Store
from starling.store.open import open_store
from starling.workers import registry
from starling.workers.base import Worker
from starling.workers.fanout import FanoutWorker

WorkerMode = Literal["threads", "sync", "none"]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        log: EventLog,
        cache: CacheBackends,
        *,
        workers: WorkerMode = "threads",
    ) -> None:
        self.settings = settings
        self.store = store
        self.log = log
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
        deps = registry.WorkerDeps(log, store, cache, settings, self.policy)
        self.workers: dict[str, Worker] = {
            name: make(deps) for name, make in registry.WORKERS.items()
        }
        self.actions = Actions(
            store,
            cache,
            self.ids,
            settings,
            after_write=self.drain if workers == "sync" else None,
        )
        self.activity = ActivityMarks(store)
        self.home = HomeTimeline(store, cache, self.activity, settings)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

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
        if self.mode == "threads":
            for name in registry.chosen(self.settings.workers):
                self._start_thread(self.workers[name])

    def _start_thread(self, worker: Worker) -> None:
        thread = threading.Thread(
            target=worker.run_forever, args=(self._stop,), name=worker.name, daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def drain(self) -> None:
        """Applies every pending event in every worker (tests, benchmarks, sync mode)."""
        for worker in self.workers.values():
            worker.drain()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for worker in self.workers.values():
            self.log.release(worker.name, worker.consumer)
        self.cache.close()
        self.store.close()
        self.log.close()


def open_runtime(settings: Settings, *, workers: WorkerMode = "threads") -> Runtime:
    """Builds every backend from the settings' URLs, then starts the runtime."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_location)
    log = open_log(settings.log_url, store, claim_after_s=settings.log_claim_after_s)
    cache = open_cache(
        settings.redis_url,
        timeline_capacity=settings.timeline_size,
        key_prefix=settings.redis_prefix,
    )
    runtime = Runtime(settings, store, log, cache, workers=workers)
    runtime.start()
    return runtime
