"""Wires the roles together: store, event log, cache, actions, timelines and workers.

`workers` chooses how log consumers run: "threads" (the default for `starling serve`:
one thread per worker in this process), "sync" (every action drains the workers before
it returns, as tests want), or "none" (workers run elsewhere, `starling worker NAME`).
See docs/architecture.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Literal

from starling.actions import Actions
from starling.cache.backends import CacheBackends, open_cache
from starling.config import Settings
from starling.eventlog.sqlite import SqliteEventLog
from starling.fanout_policy import FanoutFlags, FlagsFile, ThresholdPolicy
from starling.home import HomeTimeline
from starling.ids import IdGenerator
from starling.store.sqlite import SqliteStore
from starling.workers.base import Worker
from starling.workers.counts import CountsWorker
from starling.workers.fanout import FanoutWorker
from starling.workers.graph import GraphWorker

WorkerMode = Literal["threads", "sync", "none"]


class Runtime:
    def __init__(self, settings: Settings, *, workers: WorkerMode = "threads") -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = SqliteEventLog(settings.store_path)
        self.store = SqliteStore(settings.store_path, on_commit=self.log.notify)
        self.cache: CacheBackends = open_cache(
            settings.redis_url,
            timeline_capacity=settings.timeline_size,
            key_prefix=settings.redis_prefix,
        )
        self.ids = IdGenerator()
        self.ids.observe(self.store.max_post_id())
        self.flags = FlagsFile(
            settings.data_dir / "fanout_flags.json",
            FanoutFlags(settings.breaking_news, settings.capacity_raised),
        )
        self.fanout = FanoutWorker(
            self.log,
            self.store,
            self.cache,
            ThresholdPolicy(settings, lambda: self.fanout.backlog(), self.flags.read),
            settings,
        )
        self.policy.current()  # publishes the threshold gauge from the start
        if settings.redis_url is None:
            self.fanout.warm_celebrity_index()  # the in-process index died with the last run
        self.workers: dict[str, Worker] = {
            w.name: w
            for w in (
                self.fanout,
                GraphWorker(self.log, self.store, self.cache),
                CountsWorker(self.log, self.store, self.cache),
            )
        }
        self.actions = Actions(
            self.store,
            self.cache,
            self.ids,
            settings,
            after_write=self.drain if workers == "sync" else None,
        )
        self.home = HomeTimeline(self.store, self.cache, self.actions, settings)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if workers == "threads":
            self.start_workers(self._chosen_workers())

    def _chosen_workers(self) -> list[Worker]:
        """Workers named by settings.workers: 'all', 'none' or a comma list."""
        chosen = self.settings.workers.strip()
        if chosen == "all":
            return list(self.workers.values())
        names = {n.strip() for n in chosen.split(",")} - {"none", ""}
        unknown = names - set(self.workers)
        if unknown:
            raise ValueError(f"unknown workers {sorted(unknown)}; choose from {list(self.workers)}")
        return [self.workers[n] for n in sorted(names)]

    @property
    def policy(self) -> ThresholdPolicy:
        return self.fanout.policy

    def start_workers(self, workers: Iterable[Worker]) -> None:
        for worker in workers:
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
        self.cache.close()
        self.store.close()
        self.log.close()


def open_runtime(settings: Settings, *, workers: WorkerMode = "threads") -> Runtime:
    return Runtime(settings, workers=workers)
