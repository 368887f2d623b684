"""A product's pipeline, declared as data: which components run at each step.

The runner owns the step order; a product only lists its components. Filters are listed
cheapest first. A product may declare its ranking as a ladder of rungs, heaviest first
(ladder.py), and its latency budgets per phase (budgets.py). See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

from starling.mixer.budgets import Budgets
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
from starling.mixer.ladder import NewestFirst, Rung

MERGE = "merge"  # the step id of the merge of every source's candidates
RESERVED = (MERGE, NewestFirst.id)  # step ids the runner's own steps use


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
    ranking: Sequence[Rung[Q]] = ()  # after the scorers: the ladder, heaviest rung first
    selectors: Sequence[Selector[Q]] = ()
    decorators: Sequence[Decorator[Q]] = ()
    budgets: Budgets | None = None

    def __post_init__(self) -> None:
        counts = Counter([*RESERVED, *self.step_ids()])
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
            *self.ranking_scorers(),
            *self.selectors,
            *self.decorators,
        ]

    def ranking_scorers(self) -> list[Scorer[Q]]:
        """Every rung's scorers, each once (a light ranker may sit in two rungs)."""
        unique = {id(s): s for rung in self.ranking for s in rung.scorers}
        return list(unique.values())
