"""What a pipeline is asked: the viewer, the page wanted and the query features.

Query hydrators fill the features (the follow set, ...) once per request, before any
candidate pipeline runs, so every component reads them instead of fetching its own.
See docs/subsystems/mixer.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from starling.mixer.candidates import Ids


def _no_ids() -> Ids:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Page:
    """Mastodon paging: entries below max_id; above since_id (the newest `limit`) or
    just above min_id (the `limit` right after it)."""

    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = 20

    @property
    def lower(self) -> int | None:
        """The exclusive lower bound of the page's id window."""
        return self.min_id if self.min_id is not None else self.since_id


@dataclass(frozen=True)
class Query:
    """One request. `following` is a query feature, ascending: set by the follow-set
    hydrator."""

    viewer_id: int
    page: Page = Page()
    following: Ids = field(default_factory=_no_ids)
