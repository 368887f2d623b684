"""The follow set as a query feature: read once, used by in-network sources and filters.
See docs/subsystems/mixer.md."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from starling.mixer.components import QueryHydrator
from starling.mixer.query import Query
from starling.store.base import Store


class FollowSet(QueryHydrator[Query]):
    id = "follow-set"

    def __init__(self, store: Store) -> None:
        self.store = store

    def hydrate(self, query: Query) -> Query:
        return replace(query, following=np.sort(self.store.following(query.viewer_id)))
