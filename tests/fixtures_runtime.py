"""Runtimes on a temporary data dir, built through the real wiring (runtime.py), and
runtimes on a store double that can be taken down. No test sees the caller's STARLING_*
variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from starling.config import Settings
from starling.model import Account
from starling.runtime import Runtime, WorkerMode, open_backends, open_runtime
from starling.store.base import Store, StoreUnavailable

RuntimeFactory = Callable[..., Runtime]
KEPT_VARIABLES = {"STARLING_TEST_REDIS_URL"}


@pytest.fixture(autouse=True)
def no_starling_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read STARLING_* variables: every test starts without the caller's."""
    for name in list(os.environ):
        if name.startswith("STARLING_") and name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[RuntimeFactory]:
    """Builds runtimes in sync mode by default: a write is fanned out when it returns."""
    opened: list[Runtime] = []

    def make(mode: WorkerMode = "sync", **overrides: Any) -> Runtime:
        settings = Settings(data_dir=tmp_path / "data", rate_limits="off", **overrides)
        runtime = open_runtime(settings, workers=mode)
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime()


@pytest.fixture
def accounts(runtime: Runtime) -> Callable[[int], list[Account]]:
    """Registers n accounts named user0..user{n-1} through the actions layer."""
    counter = [0]

    def make(n: int) -> list[Account]:
        made = []
        for _ in range(n):
            made.append(runtime.actions.register(f"user{counter[0]}", None))
            counter[0] += 1
        return made

    return make


def home_sources_from_store(runtime: Runtime, viewer_id: int) -> set[int]:
    """What the home timeline must show (its source posts), computed from scratch out of
    the store of record; for small worlds (up to 100 posts per author)."""
    authors = [*runtime.store.following(viewer_id).tolist(), viewer_id]
    return {p.source_id for p in runtime.store.latest_posts_by_authors(authors, 100)}


class FlakyStore:
    """A store double: the real store, or StoreUnavailable from every call while `down`
    is set, as a store raises when its server is gone."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("the store double is down")
            return value(*args, **kwargs)

        return call


FlakyRuntimeFactory = Callable[..., tuple[Runtime, FlakyStore]]


@pytest.fixture
def make_flaky_runtime(tmp_path: Path) -> Iterator[FlakyRuntimeFactory]:
    """Runtimes (sync mode by default) whose store is a FlakyStore over the real one."""
    opened: list[tuple[Runtime, FlakyStore]] = []

    def make(mode: WorkerMode = "sync", **overrides: Any) -> tuple[Runtime, FlakyStore]:
        settings = Settings(data_dir=tmp_path / "flaky", rate_limits="off", **overrides)
        store, outbox, log, cache = open_backends(settings)
        flaky = FlakyStore(store)
        runtime = Runtime(settings, cast(Store, flaky), log, cache, outbox=outbox, workers=mode)
        runtime.start()
        opened.append((runtime, flaky))
        return runtime, flaky

    yield make
    for runtime, flaky in opened:
        flaky.down = False
        runtime.close()
