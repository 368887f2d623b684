"""Best reposter (seed: `get_best_retweeter`): after repost dedup, the repost that stands
for a source is the one by the followed reposter to credit. See docs/subsystems/mixer.md."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starling.mixer.candidates import Candidates
from starling.mixer.components import Hydrator
from starling.mixer.posts import with_records
from starling.mixer.query import Query
from starling.model import Post
from starling.store.base import Store


class BestReposter(Hydrator[Query]):
    """Mutual follow first, then the reposter the viewer engages with most, then the
    latest. Only reposts inside the page's id window compete, so paging stays
    consistent. A post-filter hydrator: it swaps the repost a row shows, not the rows."""

    id = "best-reposter"

    def __init__(self, store: Store) -> None:
        self.store = store

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        reposts = np.flatnonzero(candidates.source_id != candidates.post_id)
        if not len(reposts):
            return candidates
        best = self._best(query, np.unique(candidates.source_id[reposts]).tolist())
        records = candidates.posts.tolist()
        for row in reposts.tolist():
            records[row] = best.get(records[row].source_id, records[row])
        return with_records(candidates, records)

    def _best(self, query: Query, sources: Sequence[int]) -> dict[int, Post]:
        lower, max_id = query.page.lower, query.page.max_id
        by_source: dict[int, list[Post]] = {}
        for repost in self.store.reposts_of(sources, query.following.tolist()):
            if (lower is None or repost.id > lower) and (max_id is None or repost.id < max_id):
                by_source.setdefault(repost.source_id, []).append(repost)
        contested = [r for group in by_source.values() if len(group) > 1 for r in group]
        if not contested:
            return {source: group[0] for source, group in by_source.items()}
        authors = sorted({r.author_id for r in contested})
        viewer = query.viewer_id
        mutual = {r.id for r in self.store.relationships(viewer, authors) if r.followed_by}
        engagement = self.store.engagement_counts(viewer, authors)
        return {
            source: max(
                group,
                key=lambda r: (r.author_id in mutual, engagement.get(r.author_id, 0), r.id),
            )
            for source, group in by_source.items()
        }
