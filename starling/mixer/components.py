"""The component kinds a pipeline is declared from: each a tiny class with a stable `id`
and one method over the whole candidate batch (gates and query hydrators see only the
query). The runner calls them in its fixed step order. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from starling.mixer.candidates import Candidates, Mask, Rows, Scores
from starling.mixer.query import Query

Q = TypeVar("Q", bound=Query)
Q_contra = TypeVar("Q_contra", bound=Query, contravariant=True)


class Component(ABC):
    id: ClassVar[str]  # names the step in traces and metrics; unique within a pipeline


class Gate(Component, Generic[Q_contra]):
    """Whether the pipeline runs at all for this query."""

    @abstractmethod
    def allows(self, query: Q_contra) -> bool: ...


class QueryHydrator(Component, Generic[Q]):
    """Fills query features that later components read (once per request)."""

    @abstractmethod
    def hydrate(self, query: Q) -> Q: ...


class Source(Component, Generic[Q_contra]):
    """A candidate pipeline's source. Runs beside the others on the runner's threads;
    when it raises or outlives `timeout_s`, the request goes on without it."""

    timeout_s: float = 1.0

    @abstractmethod
    def fetch(self, query: Q_contra) -> Candidates: ...

    def fetch_scaled(self, query: Q_contra, quality: float) -> Candidates:
        """`fetch` asked for `quality` (0.1-1.0) times its usual candidates: the source's
        quality factor, when its product has latency budgets. A source that cannot size
        its answer serves `fetch`."""
        return self.fetch(query)


class Hydrator(Component, Generic[Q_contra]):
    """Fills columns of every row: the same rows come back, in the same order."""

    @abstractmethod
    def hydrate(self, query: Q_contra, candidates: Candidates) -> Candidates: ...


class Filter(Component, Generic[Q_contra]):
    """Which rows to keep; the runner records how many it kept and removed."""

    @abstractmethod
    def keep(self, query: Q_contra, candidates: Candidates) -> Mask: ...


class Scorer(Component, Generic[Q_contra]):
    """A new score column; a later scorer reads the earlier one's."""

    @abstractmethod
    def score(self, query: Q_contra, candidates: Candidates) -> Scores: ...


class Selector(Component, Generic[Q_contra]):
    """Which rows make the result, in which order (a mask or row indices)."""

    @abstractmethod
    def select(self, query: Q_contra, candidates: Candidates) -> Rows: ...


class Decorator(Component, Generic[Q_contra]):
    """Presentation columns of the selected rows: the same rows come back."""

    @abstractmethod
    def decorate(self, query: Q_contra, candidates: Candidates) -> Candidates: ...
