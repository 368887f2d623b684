"""What the heavy ranker reads, as arrays with a leading batch of viewers: each viewer's
history (H engagements) and candidates (C posts). Serving scores one viewer's candidates
(a batch of one); training batches many (viewer, moment) rows of one candidate each.
See docs/subsystems/heavy_ranker.md#inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.engagements import Engagements
from starling.model import Post
from starling.ranking.heavy.history import Recent
from starling.ranking.heavy.tokens import author_buckets, token_matrix

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]


@dataclass(frozen=True)
class HistoryInputs:
    tokens: Ints  # B x H x L, 0 = padding
    authors: Ints  # B x H author buckets
    actions: npt.NDArray[np.int8]  # B x H, EngagementKind
    valid: npt.NDArray[np.bool_]  # B x H: False for the slots of a short history


@dataclass(frozen=True)
class CandidateInputs:
    tokens: Ints  # B x C x L
    authors: Ints  # B x C
    features: Floats  # B x C x F, raw (the model standardises them)


def history_of(
    engagements: Engagements,
    recent: Recent,
    posts: dict[int, Post],
    vocab: int,
    length: int,
    buckets: int,
) -> HistoryInputs:
    """Rows' histories from the engagement columns and the engaged posts' records (a
    post missing from `posts` has no tokens; its author and action still count)."""
    shape = recent.positions.shape
    if not engagements.size:  # no history: every slot padding
        zeros = np.zeros(shape, dtype=np.int32)
        return HistoryInputs(np.zeros((*shape, length), np.int32), zeros, zeros.astype(np.int8),
                             recent.valid)  # fmt: skip
    picked = engagements.take(recent.positions.ravel())
    unique, row_of = np.unique(picked.post, return_inverse=True)
    tokens = token_matrix([posts.get(p) for p in unique.tolist()], vocab, length)
    return HistoryInputs(
        tokens=tokens[row_of].reshape(*shape, length),
        authors=author_buckets(picked.author, buckets).reshape(shape),
        actions=picked.kind.reshape(shape),
        valid=recent.valid,
    )


def candidates_of(
    tokens: Ints,
    author_ids: npt.NDArray[np.int64],
    features: Floats,
    buckets: int,
) -> CandidateInputs:
    """One viewer's candidates: the shown posts' tokens (the original's, for a repost:
    `token_matrix`), their authors and light features, as a batch of one."""
    return CandidateInputs(
        tokens=tokens[None],
        authors=author_buckets(author_ids, buckets)[None],
        features=np.asarray(features, dtype=np.float32)[None],
    )
