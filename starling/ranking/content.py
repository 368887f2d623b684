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
from collections.abc import Sequence

import numpy as np

from starling.model import Post
from starling.ranking.columns import Matrix
from starling.ranking.heavy.history import HISTORY, Histories
from starling.ranking.heavy.tokens import PAD, TEXT_LENGTH, VOCAB, TokenRows, post_tokens


class ContentReader:
    def __init__(self, histories: Histories, limit: int = HISTORY) -> None:
        self.histories = histories
        self.limit = limit
        self.bags = TokenRows(bag_of)  # each post's bag, computed once

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


def bag_of(post: Post) -> list[int]:
    """The post's bag: its distinct tokens, ascending."""
    return sorted(set(post_tokens(post.text, post.hashtags, VOCAB, TEXT_LENGTH)))
