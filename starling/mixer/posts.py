"""Post hydration: the records of every candidate in one store call, the columns they
fill (author, source post, creation time), and the reposts' originals (one more call,
only for originals not already in the batch). See docs/subsystems/mixer.md."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starling.mixer.candidates import Candidates, Records
from starling.mixer.components import Hydrator
from starling.mixer.query import Query
from starling.mixer.records import PostReader
from starling.model import Post


class PostRecords(Hydrator[Query]):
    """Rows whose post is not found keep `None`; a filter drops them. The originals are
    read here once, for every filter that judges a repost by its original. The reader is
    the store, or records kept in front of it (records.KeptRecords)."""

    id = "posts"

    def __init__(self, store: PostReader) -> None:
        self.store = store

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        wanted = candidates.post_id.tolist()
        found = self.store.get_posts(wanted)
        records = [found.get(i) for i in wanted]
        originals = self._originals(records, found)
        return with_records(candidates, records).with_columns(originals=originals)

    def _originals(self, records: Sequence[Post | None], found: dict[int, Post]) -> Records:
        """The original of each repost row (a deleted repost's is not read: it is
        dropped whatever its original)."""
        missing = {
            p.repost_of_id
            for p in records
            if p is not None and p.repost_of_id is not None and p.deleted_at is None
        } - found.keys()
        if missing:
            found = {**found, **self.store.get_posts(sorted(missing))}
        column = np.full(len(records), None, dtype=object)
        for row, post in enumerate(records):
            if post is not None and post.repost_of_id is not None:
                column[row] = found.get(post.repost_of_id)
        return column


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
