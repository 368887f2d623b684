"""The records whose text the heavy ranker reads, in batched store reads: a repost
stands for its original, the post it shows. See docs/subsystems/heavy_ranker.md#inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling.mixer.candidates import Candidates
from starling.model import Post
from starling.store.base import Store

CHUNK = 10_000  # ids per store read


def shown_posts(store: Store, ids: Sequence[int]) -> dict[int, Post]:
    """Post id -> the post it shows (itself, or a repost's original); ids not found are
    left out. One read per chunk of ids, and one more for the originals of reposts."""
    found = _read(store, ids)
    originals = _read(store, sorted({p.repost_of_id for p in found.values() if p.repost_of_id}))
    return {i: originals.get(p.source_id, p) for i, p in found.items()}


def shown_in(candidates: Candidates) -> list[Post | None]:
    """The post each row shows: its record, or a repost's original."""
    return [
        original if original is not None else post
        for post, original in zip(candidates.posts, candidates.originals, strict=True)
    ]


def _read(store: Store, ids: Sequence[int]) -> dict[int, Post]:
    found: dict[int, Post] = {}
    for start in range(0, len(ids), CHUNK):
        found.update(store.get_posts(ids[start : start + CHUNK]))
    return found
