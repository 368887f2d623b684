"""`starling world generate`: build a seeded world, load it into the store, save the truth.

See docs/subsystems/world.md.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from starling import ids
from starling.store.base import Store
from starling.world.build import World, build_world
from starling.world.loader import load_world
from starling.world.spec import SIZES, WorldSpec
from starling.world.truth import save_meta, save_truth

TOP_ACCOUNTS = 10  # how many of the largest follower counts the summary lists


@dataclass(frozen=True)
class WorldSummary:
    size: str
    seed: int
    accounts: int
    follows: int
    posts: int
    likes: int
    bots: int
    top_follower_counts: tuple[int, ...]
    celebrity_threshold: int
    celebrities: int  # accounts at or above the threshold
    seconds: float


def spec_for(size: str) -> WorldSpec:
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown world size {size!r}; choose from {sorted(SIZES)}") from None


def generate(
    store: Store,
    data_dir: Path,
    size: str,
    seed: int,
    *,
    progress: bool = True,
    now_ms: int | None = None,
) -> WorldSummary:
    """Generates the `size` world for `seed` into an empty store; same inputs, same world."""
    started = time.perf_counter()
    spec = spec_for(size)
    world = build_world(spec, seed, ids.now_ms() if now_ms is None else now_ms, progress=progress)
    load_world(store, world, progress=progress)
    save_truth(data_dir, world)
    summary = summarize(world, time.perf_counter() - started)
    save_meta(data_dir, _meta(world, summary))
    return summary


def summarize(world: World, seconds: float) -> WorldSummary:
    followers = world.counts.followers
    threshold = world.spec.celebrity_threshold
    return WorldSummary(
        size=world.spec.name,
        seed=world.seed,
        accounts=world.population.size,
        follows=world.follows.size,
        posts=world.history.size,
        likes=world.likes.size,
        bots=int(world.population.bot.sum()),
        top_follower_counts=tuple(np.sort(followers)[::-1][:TOP_ACCOUNTS].tolist()),
        celebrity_threshold=threshold,
        celebrities=int((followers >= threshold).sum()),
        seconds=round(seconds, 3),
    )


def _meta(world: World, summary: WorldSummary) -> dict[str, object]:
    return {
        **asdict(summary),
        "communities": world.spec.communities,
        "now_ms": world.now_ms,
        "demo_username": world.population.usernames[world.population.demo],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
