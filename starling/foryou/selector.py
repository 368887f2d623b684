"""The ranked page: best score first, at most two out-of-network entries in a row.
See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from starling.foryou.sources import in_network
from starling.mixer.candidates import Candidates, Rows
from starling.mixer.components import Selector
from starling.mixer.query import Query

MAX_OUT_OF_NETWORK_RUN = 2


class RankedPage(Selector[Query]):
    """Rows newer than the page's lower bound (since_id, min_id), by score; an
    out-of-network row that would make a third in a row waits for the next in-network
    one, so the page ends early rather than break the rule."""

    id = "ranked-page"

    def select(self, query: Query, candidates: Candidates) -> Rows:
        order = np.argsort(-candidates.score, kind="stable")
        if query.page.lower is not None:
            order = order[candidates.post_id[order] > query.page.lower]
        outside = ~in_network(candidates)
        picked: list[int] = []
        waiting: deque[int] = deque()  # out-of-network rows held back, best first
        run = 0
        for row in order.tolist():
            if len(picked) == query.page.limit:
                break
            if outside[row]:
                waiting.append(row)
            else:
                picked.append(row)
                run = 0
            while waiting and run < MAX_OUT_OF_NETWORK_RUN and len(picked) < query.page.limit:
                picked.append(waiting.popleft())
                run += 1
        return np.array(picked, dtype=np.intp)
