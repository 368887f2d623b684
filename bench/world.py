"""The bench world every benchmark reads: generated once into bench/out/world-<size>
(or STARLING_BENCH_DATA_DIR), then reused. See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from bench.common import OUT_DIR
from starling.config import Settings
from starling.runtime import Runtime
from starling.store.base import Store
from starling.store.sqlite import SqliteStore
from starling.world.generate import generate
from starling.world.truth import TRUTH_FILE, load_world_meta, world_dir

Ints = npt.NDArray[np.int64]
ACCOUNT_CHUNK = 50_000


def bench_data_dir(size: str = "bench", seed: int = 1) -> Path:
    """The data dir of the world, generating it first when it is not there yet."""
    data_dir = Path(os.environ.get("STARLING_BENCH_DATA_DIR", OUT_DIR / f"world-{size}"))
    if load_world_meta(data_dir) is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(Settings(data_dir=data_dir).store_path)
        try:
            print(generate(store, data_dir, size, seed))
        finally:
            store.close()
    return data_dir


def world_arguments(parser: argparse.ArgumentParser, *, backends: bool = True) -> None:
    """The options the benchmarks on the world share."""
    parser.add_argument("--size", default="bench", help="world size")
    parser.add_argument("--seed", type=int, default=1, help="world seed")
    if backends:
        parser.add_argument("--backends", default="memory,redis", help="'memory' and/or 'redis'")


def bench_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, rate_limits="off", **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AccountTable:
    """Columns of every account in the world, in the order of the world's truth."""

    ids: Ints
    followers: Ints
    statuses: Ints
    last_active: Ints


def account_table(store: Store, data_dir: Path) -> AccountTable:
    ids = np.load(world_dir(data_dir) / TRUTH_FILE)["account_ids"].astype(np.int64)
    followers = np.zeros(len(ids), dtype=np.int64)
    statuses = np.zeros(len(ids), dtype=np.int64)
    last_active = np.zeros(len(ids), dtype=np.int64)
    for start in range(0, len(ids), ACCOUNT_CHUNK):
        chunk = ids[start : start + ACCOUNT_CHUNK].tolist()
        found = store.get_accounts(chunk)
        for offset, account_id in enumerate(chunk):
            account = found[account_id]
            followers[start + offset] = account.followers_count
            statuses[start + offset] = account.statuses_count
            last_active[start + offset] = account.last_active_at
    return AccountTable(ids, followers, statuses, last_active)


def pushed_author_near(runtime: Runtime, data_dir: Path, followers: int) -> tuple[int, int]:
    """(id, follower count) of the account whose follower count is nearest `followers`
    among those under the celebrity threshold, whose posts are pushed."""
    table = account_table(runtime.store, data_dir)
    pushed = table.followers < runtime.policy.current()
    row = int(np.argmin(np.where(pushed, np.abs(table.followers - followers), 1 << 60)))
    return int(table.ids[row]), int(table.followers[row])


def cached_audience(runtime: Runtime, author: int, desc: str) -> Ints:
    """The author's active followers, each given an (empty) cached timeline, so that
    fan-out writes to every one of them."""
    audience = runtime.store.followers(author, active_since=runtime.settings.active_since())
    for follower in tqdm(audience.tolist(), desc=desc):
        runtime.cache.timelines.replace(follower, [])
    return audience
