"""Content similarity: how close each candidate's words are to the words of the posts
the viewer engaged with lately. Both sides are bags of the heavy ranker's hashed tokens
(starling/ranking/heavy/tokens.py): the candidate's distinct tokens, and the viewer's
history as a count per token over its last engaged posts (each post's tokens once); the
feature is their cosine. The history is the heavy ranker's own (its source and limit),
so the same code serves requests and the impressions the rankers learn from.
See docs/subsystems/ranking.md#features.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from starling.model import Post
from starling.ranking.columns import Matrix
from starling.ranking.heavy.history import HISTORY, Histories
from starling.ranking.heavy.tokens import PAD, TEXT_LENGTH, VOCAB, TokenMatrix, post_tokens

BAGS = 1 << 16  # posts whose bags are kept; past it, the next batch starts afresh


class ContentReader:
    def __init__(self, histories: Histories, limit: int = HISTORY) -> None:
        self.histories = histories
        self.limit = limit
        self.bags = PostBags()

    def similarity(self, viewer_id: int, shown: Sequence[Post | None]) -> Matrix:
        """The cosine of each shown post's bag with the viewer's history (0 without
        either)."""
        out = np.zeros(len(shown))
        viewer = self.histories.of(viewer_id, self.limit)
        engaged = [viewer.posts.get(p) for p in viewer.post_ids()]
        if not engaged:
            return out
        counts = np.bincount(self.bags.of(engaged).ravel(), minlength=VOCAB)
        counts[PAD] = 0
        # Integer counts: the sums are exact, and no BLAS call (threaded past 10,000
        # elements) waits for a busy core.
        norm = math.sqrt(int((counts * counts).sum()))
        if norm == 0.0:
            return out
        bags = self.bags.of(shown)
        sizes = np.count_nonzero(bags != PAD, axis=1)
        out[:] = counts[bags].sum(axis=1) / np.maximum(np.sqrt(sizes) * norm, 1e-12)
        return out


class PostBags:
    """Each post's bag: its distinct tokens ascending, then PAD. Posts are never edited,
    so a bag is computed once per post id into one table, and a batch is a dict lookup
    per post and one take; row 0 is the empty bag of a missing post."""

    def __init__(self, capacity: int = BAGS) -> None:
        self.capacity = capacity
        self._table = np.zeros((1024, TEXT_LENGTH), np.int32)
        self._rows: dict[int, int] = {}
        self._lock = threading.Lock()

    def of(self, posts: Sequence[Post | None]) -> TokenMatrix:
        """One bag per post, in order."""
        with self._lock:
            if len(self._rows) >= self.capacity:
                self._rows.clear()
            rows = self._rows
            at = np.fromiter(
                (0 if p is None else rows.get(p.id, -1) for p in posts), np.intp, len(posts)
            )
            missing = np.flatnonzero(at < 0)
            if missing.size:
                at[missing] = self._add([posts[i] for i in missing.tolist()])
            return self._table[at]

    def _add(self, posts: list[Post | None]) -> list[int]:
        rows = self._rows
        needed = len(rows) + len(posts) + 1
        if needed > len(self._table):
            grown = np.zeros((max(needed, 2 * len(self._table)), TEXT_LENGTH), np.int32)
            grown[: len(self._table)] = self._table
            self._table = grown
        added = []
        for post in posts:
            assert post is not None
            row = rows.get(post.id)
            if row is None:
                row = rows[post.id] = len(rows) + 1
                bag = sorted(set(post_tokens(post.text, post.hashtags, VOCAB, TEXT_LENGTH)))
                self._table[row, : len(bag)] = bag
                self._table[row, len(bag) :] = PAD
            added.append(row)
        return added
