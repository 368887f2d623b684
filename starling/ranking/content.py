"""Content similarity: how close each candidate's words are to the words of the posts
the viewer engaged with lately. Both sides are bags of the heavy ranker's hashed tokens
(starling/ranking/heavy/tokens.py): the candidate's distinct tokens, and the viewer's
history as a count per token over its last engaged posts (each post's tokens once); the
feature is their cosine. The history is the heavy ranker's own (its source and limit),
so the same code serves requests and the impressions the rankers learn from.
See docs/subsystems/ranking.md#features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from starling.model import Post
from starling.ranking.columns import Matrix
from starling.ranking.heavy.history import HISTORY, HistorySource, viewer_history
from starling.ranking.heavy.tokens import PAD, TEXT_LENGTH, VOCAB, TokenMatrix, token_matrix
from starling.store.base import Store


class ContentReader:
    def __init__(self, history: HistorySource, store: Store, limit: int = HISTORY) -> None:
        self.history = history
        self.store = store
        self.limit = limit

    def similarity(self, viewer_id: int, shown: Sequence[Post | None]) -> Matrix:
        """The cosine of each shown post's bag with the viewer's history (0 without
        either)."""
        out = np.zeros(len(shown))
        viewer = viewer_history(self.history, self.store, viewer_id, self.limit)
        engaged = [viewer.posts.get(p) for p in viewer.post_ids()]
        if not engaged:
            return out
        history, kept = _bags(token_matrix(engaged, VOCAB, TEXT_LENGTH))
        counts = np.bincount(history[kept], minlength=VOCAB).astype(np.float64)
        norm = float(np.linalg.norm(counts))
        if norm == 0.0:
            return out
        tokens, distinct = _bags(token_matrix(shown, VOCAB, TEXT_LENGTH))
        dots = np.where(distinct, counts[tokens], 0.0).sum(axis=1)
        out[:] = dots / np.maximum(np.sqrt(distinct.sum(axis=1)) * norm, 1e-12)
        return out


def _bags(tokens: TokenMatrix) -> tuple[TokenMatrix, npt.NDArray[np.bool_]]:
    """Each row's tokens sorted (a bag has no order), and True at the first occurrence
    of each (padding never)."""
    ordered = np.sort(tokens, axis=1)
    first = np.ones(tokens.shape, dtype=np.bool_)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return ordered, first & (ordered != PAD)
