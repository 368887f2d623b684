"""How much each engagement and each seed account counts in the real graph's scores.
See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from starling.engagements import KindArray

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Weights:
    # Like, repost, reply (EngagementKind order): a repost puts the post before the
    # engager's own followers, a reply costs more effort than a like.
    kinds: tuple[float, float, float] = (1.0, 2.0, 1.5)
    follow: float = 1.0  # a seed the viewer follows
    per_engagement: float = 0.5  # plus this per engagement of the viewer with the seed
    max_engagements: int = 4  # counted up to this many
    kind_table: Floats = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind_table", np.asarray(self.kinds, dtype=np.float64))

    def of_kinds(self, kinds: KindArray) -> Floats:
        return self.kind_table[kinds]


DEFAULT = Weights()
