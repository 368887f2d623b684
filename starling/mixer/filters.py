"""Filters over hydrated posts, cheapest first: each returns a keep-mask for the batch.
See docs/subsystems/mixer.md."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from starling.hidden import shown
from starling.mixer.candidates import Candidates, Mask, among
from starling.mixer.components import Filter
from starling.mixer.query import Query
from starling.store.base import Store
from starling.visibility import addressed_to, reaches_followers


def _flags(values: Iterable[bool]) -> Mask:
    return np.array(list(values), dtype=np.bool_)


class Live(Filter[Query]):
    """Posts that were found and are not deleted."""

    id = "live"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        posts = candidates.posts.tolist()
        return _flags(p is not None and p.deleted_at is None for p in posts)


class Visible(Filter[Query]):
    """Posts by followed accounts or the viewer; a direct post only when addressed to the
    viewer, whoever sent it."""

    id = "visible"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        authors, viewer = candidates.author_id, query.viewer_id
        keep: Mask = among(authors, query.following) | (authors == viewer)
        posts = candidates.posts.tolist()
        direct = np.flatnonzero(_flags(not reaches_followers(p.visibility) for p in posts))
        keep[direct] = [addressed_to(posts[row], viewer) for row in direct.tolist()]
        return keep


class RepostDedup(Filter[Query]):
    """One row per source post (seed: retweet deduplication): the original when it is in
    the batch, otherwise the first (newest) repost of it."""

    id = "repost-dedup"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        source = candidates.source_id
        is_repost: Mask = source != candidates.post_id
        keep: Mask = ~is_repost
        if keep.all():
            return keep
        orphans = np.flatnonzero(is_repost & ~np.isin(source, source[keep]))
        _, first = np.unique(source[orphans], return_index=True)
        keep[orphans[first]] = True
        return keep


class LiveOriginals(Filter[Query]):
    """Reposts whose original is still live (read by the posts hydrator)."""

    id = "live-originals"

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        is_repost = (candidates.source_id != candidates.post_id).tolist()
        originals = candidates.originals.tolist()
        return _flags(
            not repost or (original is not None and original.deleted_at is None)
            for repost, original in zip(is_repost, originals, strict=True)
        )


class NotHidden(Filter[Query]):
    """Posts by authors the viewer has not blocked or muted and who do not block the
    viewer, nor reposts of such authors' posts (starling/hidden.py): one read of the
    hidden authors; the originals come from the posts hydrator."""

    id = "not-hidden"

    def __init__(self, store: Store) -> None:
        self.store = store

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        posts = candidates.posts.tolist()
        originals = {o.id: o for o in candidates.originals.tolist() if o is not None}
        found = [row for row, post in enumerate(posts) if post is not None]
        keep = np.zeros(len(posts), dtype=np.bool_)
        keep[found] = shown(self.store, query.viewer_id, [posts[r] for r in found], originals)
        return keep
