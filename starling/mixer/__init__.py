"""Product Mixer: one pipeline runner for every timeline (seed: Deep Dive 1).

A product declares its pipeline as data (`Pipeline`: gates, query hydrators, candidate
sources, hydrators, filters cheapest first, post-filter hydrators, scorers, selectors,
decorators); `Runner` executes it in a fixed step order over columnar `Candidates`, with
per-step timing, candidate counts, Prometheus metrics and a `Trace`, running the sources
side by side, each fail-open with its own timeout. See docs/subsystems/mixer.md.
"""

from starling.mixer.candidates import Candidates
from starling.mixer.components import (
    Decorator,
    Filter,
    Gate,
    Hydrator,
    QueryHydrator,
    Scorer,
    Selector,
    Source,
)
from starling.mixer.pipeline import Pipeline
from starling.mixer.query import Page, Query
from starling.mixer.runner import Mixed, Runner
from starling.mixer.sources import SourceTimedOut
from starling.mixer.trace import Step, Trace

__all__ = [
    "Candidates",
    "Decorator",
    "Filter",
    "Gate",
    "Hydrator",
    "Mixed",
    "Page",
    "Pipeline",
    "Query",
    "QueryHydrator",
    "Runner",
    "Scorer",
    "Selector",
    "Source",
    "SourceTimedOut",
    "Step",
    "Trace",
]
