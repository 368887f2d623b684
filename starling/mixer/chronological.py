"""The chronological selector: newest first, paged the Mastodon way.
See docs/subsystems/mixer.md."""

from __future__ import annotations

import numpy as np

from starling.mixer.candidates import Candidates, Rows
from starling.mixer.components import Selector
from starling.mixer.query import Query


class Chronological(Selector[Query]):
    """Rows inside the page's id window, newest first: the newest `limit` (max_id,
    since_id), or with min_id the `limit` just above it."""

    id = "chronological"

    def select(self, query: Query, candidates: Candidates) -> Rows:
        page, ids = query.page, candidates.post_id
        inside = np.ones(len(ids), dtype=np.bool_)
        if page.lower is not None:
            inside &= ids > page.lower
        if page.max_id is not None:
            inside &= ids < page.max_id
        rows = np.flatnonzero(inside)
        rows = rows[np.argsort(-ids[rows], kind="stable")]
        if page.min_id is not None:
            return rows[max(len(rows) - page.limit, 0) :]
        return rows[: page.limit]
