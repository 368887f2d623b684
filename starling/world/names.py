"""Usernames and display names: adjective_noun_123, unique and reproducible.

See docs/subsystems/world.md.
"""

from __future__ import annotations

import numpy as np

ADJECTIVES: tuple[str, ...] = (
    "quiet", "brave", "sunny", "lucky", "rapid", "gentle", "bold", "calm", "clever", "eager",
    "fancy", "happy", "jolly", "kind", "lively", "merry", "nimble", "proud", "silly", "witty",
    "amber", "azure", "crimson", "golden", "ivory", "jade", "scarlet", "silver", "violet",
    "cosmic", "urban", "rustic", "polar", "misty", "stormy", "windy", "frosty", "dusty",
    "velvet", "cozy", "sleepy", "zesty", "spicy", "salty", "sweet", "bitter", "noisy", "tiny",
    "giant", "ancient", "modern", "hidden", "wild", "lonely", "curious", "daring", "humble",
    "mellow", "fuzzy", "shiny", "swift", "steady", "wise", "odd",
)  # fmt: skip

NOUNS: tuple[str, ...] = (
    "falcon", "otter", "badger", "heron", "panda", "tiger", "walrus", "lynx", "moose", "raven",
    "sparrow", "beetle", "dolphin", "gecko", "koala", "lemur", "marmot", "narwhal", "ocelot",
    "puffin", "quokka", "salmon", "toucan", "weasel", "yak", "zebra", "comet", "meadow",
    "river", "canyon", "harbor", "island", "lantern", "maple", "nebula", "orchid", "pebble",
    "prairie", "quartz", "ridge", "summit", "thistle", "tundra", "valley", "willow", "anchor",
    "biscuit", "cactus", "dumpling", "ember", "fjord", "glacier", "hammock", "igloo", "jigsaw",
    "kettle", "lagoon", "mango", "noodle", "oasis", "pretzel", "rocket", "teapot", "waffle",
)  # fmt: skip

SUFFIXES = 1000


def usernames(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct lower-case usernames; at most 64 * 64 * 1000 fit."""
    space = len(ADJECTIVES) * len(NOUNS) * SUFFIXES
    if count > space:
        raise ValueError(f"at most {space} usernames, asked for {count}")
    codes = rng.choice(space, size=count, replace=False)
    adjective, rest = np.divmod(codes, len(NOUNS) * SUFFIXES)
    noun, number = np.divmod(rest, SUFFIXES)
    return [
        f"{ADJECTIVES[a]}_{NOUNS[n]}_{k}"
        for a, n, k in zip(adjective.tolist(), noun.tolist(), number.tolist(), strict=True)
    ]


def display_name(username: str) -> str:
    """'quiet_falcon_12' -> 'Quiet Falcon'; 'demo' -> 'Demo'."""
    return " ".join(part.title() for part in username.split("_") if not part.isdigit())
