"""Runtimes on a temporary data dir, built through the real wiring (runtime.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from starling.config import Settings
from starling.model import Account
from starling.runtime import Runtime, WorkerMode, open_runtime

RuntimeFactory = Callable[..., Runtime]


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
