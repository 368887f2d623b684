"""Post hydration: the records of every candidate in one store call, and the columns
they fill (author, source post, creation time). See docs/subsystems/mixer.md."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starling.mixer.candidates import Candidates
from starling.mixer.components import Hydrator
from starling.mixer.query import Query
from starling.model import Post
from starling.store.base import Store


class PostRecords(Hydrator[Query]):
    """Rows whose post is not found keep `None`; a filter drops them."""

    id = "posts"

    def __init__(self, store: Store) -> None:
        self.store = store

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        wanted = candidates.post_id.tolist()
        found = self.store.get_posts(wanted)
        return with_records(candidates, [found.get(i) for i in wanted])


def with_records(candidates: Candidates, records: Sequence[Post | None]) -> Candidates:
    """The batch with these records (one per row) and the columns read from them; rows
    without a record keep their post id as source and 0 as author."""
    posts = np.empty(len(records), dtype=object)
    posts[:] = records
    post_ids, sources = candidates.post_id.tolist(), candidates.source_id.tolist()
    authors, created = candidates.author_id.tolist(), candidates.created_at.tolist()
    for row, post in enumerate(records):
        if post is not None:
            post_ids[row], sources[row] = post.id, post.source_id
            authors[row], created[row] = post.author_id, post.created_at
    return candidates.with_columns(
        posts=posts,
        post_id=np.array(post_ids, dtype=np.int64),
        source_id=np.array(sources, dtype=np.int64),
        author_id=np.array(authors, dtype=np.int64),
        created_at=np.array(created, dtype=np.int64),
    )
