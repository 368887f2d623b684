"""The world's hidden ground truth (truth.npz) and its metadata (world.json).

Ground truth is what the system is never told: interests, popularity, home communities,
which accounts are bots (flagged or not), each post's topic and each community's
vocabulary. Evaluations of
recommendations and trend anti-manipulation read it. See docs/subsystems/world.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from starling.world.build import World

WORLD_DIR = "world"
TRUTH_FILE = "truth.npz"
META_FILE = "world.json"


def world_dir(data_dir: Path) -> Path:
    return data_dir / WORLD_DIR


def save_truth(data_dir: Path, world: World) -> Path:
    pop, vocab = world.population, world.vocab
    path = world_dir(data_dir) / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "account_ids": pop.ids,
        "interests": pop.interests,
        "popularity": pop.popularity,
        "post_ids": world.history.ids,
        # The community a post's text is drawn from; -1 for a bot's campaign spam.
        "post_topic": np.where(pop.bot[world.history.author], -1, world.history.topic),
        "home_community": pop.home,
        "bot": pop.bot,
        "bot_flagged": pop.bot_flag,
        "bot_campaign": pop.campaign,
        "campaign_hashtags": np.array(vocab.campaign_tags),
        **_flat("word", vocab.words),
        **_flat("hashtag", vocab.hashtags),
    }
    np.savez(path, **arrays)
    return path


def _flat(name: str, groups: list[list[str]]) -> dict[str, np.ndarray[Any, Any]]:
    """Per-community lists as two flat columns: the strings and their community."""
    return {
        f"{name}s": np.array([item for group in groups for item in group]),
        f"{name}_community": np.repeat(np.arange(len(groups)), [len(g) for g in groups]),
    }


def save_meta(data_dir: Path, meta: dict[str, Any]) -> Path:
    path = world_dir(data_dir) / META_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


def load_world_meta(data_dir: Path) -> dict[str, Any] | None:
    """world.json of the world generated into data_dir, or None when there is none."""
    path = world_dir(data_dir) / META_FILE
    if not path.exists():
        return None
    meta: dict[str, Any] = json.loads(path.read_text())
    return meta


def load_truth(data_dir: Path) -> dict[str, np.ndarray[Any, Any]]:
    """Every array of truth.npz, read into memory."""
    with np.load(world_dir(data_dir) / TRUTH_FILE) as truth:
        return {name: truth[name] for name in truth.files}


def human_accounts(data_dir: Path, count: int, seed: int = 0) -> list[int]:
    """Ids of up to `count` random non-bot accounts of the generated world (load drivers)."""
    truth = load_truth(data_dir)
    humans = truth["account_ids"][~truth["bot"]]
    picked = np.random.default_rng(seed).choice(humans, size=min(count, humans.size), replace=False)
    return [int(i) for i in picked]
