"""World sizes: how many accounts, edges, posts and likes each preset makes.

See docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass(frozen=True)
class WorldSpec:
    name: str
    accounts: int
    communities: int
    mean_follows: float
    posts: int
    likes: int
    bot_share: float
    celebrity_threshold: int
    # Zipf exponent of popularity by rank: 1.0 gives a few accounts followed by a large
    # share of their communities and a median of a handful of followers.
    popularity_exponent: float = 1.0
    # Share of follows picked by popularity alone, regardless of interest (global stars).
    global_follow_share: float = 0.15
    history_days: float = 3.0
    active_days: float = 7.0
    active_share: float = 0.35
    reply_share: float = 0.2
    campaigns: int = 3
    # Share of follows with notifications on (the seed's "superfans" of a celebrity).
    notify_share: float = 0.02


SIZES: dict[str, WorldSpec] = {
    "tiny": WorldSpec(
        name="tiny",
        accounts=300,
        communities=4,
        mean_follows=12,
        posts=1_500,
        likes=3_000,
        bot_share=0.03,
        celebrity_threshold=60,
        campaigns=2,
    ),
    "demo": WorldSpec(
        name="demo",
        accounts=5_000,
        communities=8,
        mean_follows=20,
        posts=30_000,
        likes=60_000,
        bot_share=0.01,
        celebrity_threshold=400,
    ),
    "bench": WorldSpec(
        name="bench",
        accounts=1_000_000,
        communities=20,
        mean_follows=20,
        posts=1_500_000,
        likes=3_000_000,
        bot_share=0.005,
        celebrity_threshold=100_000,
        campaigns=5,
    ),
}
