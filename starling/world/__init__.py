"""The simulated world: a seeded social graph with post history, and a load generator.

The load generator (starling.world.load) needs httpx and is imported on its own.
See docs/subsystems/world.md.
"""

from starling.world.generate import WorldSummary, generate
from starling.world.spec import SIZES, WorldSpec
from starling.world.truth import human_accounts, load_truth, load_world_meta

__all__ = [
    "SIZES",
    "WorldSpec",
    "WorldSummary",
    "generate",
    "human_accounts",
    "load_truth",
    "load_world_meta",
]
