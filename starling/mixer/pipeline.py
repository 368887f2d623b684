"""A product's pipeline, declared as data: which components run at each step.

The runner owns the step order; a product only lists its components. Filters are listed
cheapest first. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

from starling.mixer.components import (
    Component,
    Decorator,
    Filter,
    Gate,
    Hydrator,
    Q,
    QueryHydrator,
    Scorer,
    Selector,
    Source,
)

MERGE = "merge"  # the step id of the merge of every source's candidates


@dataclass(frozen=True)
class Pipeline(Generic[Q]):
    product: str
    gates: Sequence[Gate[Q]] = ()
    query_hydrators: Sequence[QueryHydrator[Q]] = ()
    sources: Sequence[Source[Q]] = ()
    hydrators: Sequence[Hydrator[Q]] = ()
    filters: Sequence[Filter[Q]] = ()
    post_filter_hydrators: Sequence[Hydrator[Q]] = ()
    scorers: Sequence[Scorer[Q]] = ()
    selectors: Sequence[Selector[Q]] = ()
    decorators: Sequence[Decorator[Q]] = ()

    def __post_init__(self) -> None:
        counts = Counter([MERGE, *self.step_ids()])
        repeated = [step_id for step_id, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{self.product}: step ids used twice: {', '.join(repeated)}")

    def step_ids(self) -> list[str]:
        return [c.id for c in self.components()]

    def components(self) -> list[Component]:
        """Every component, in step order."""
        return [
            *self.gates,
            *self.query_hydrators,
            *self.sources,
            *self.hydrators,
            *self.filters,
            *self.post_filter_hydrators,
            *self.scorers,
            *self.selectors,
            *self.decorators,
        ]
