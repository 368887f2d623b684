"""The candidate batch: one request's candidates as columns, never one object each.

Every component of a pipeline takes and returns a `Candidates`; a filter's keep-mask or a
selector's order becomes one `take` over every column at once. See
docs/subsystems/mixer.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.ids import SEQUENCE_BITS
from starling.model import Post
from starling.ranking.features import INDEX, NAMES

Ids = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float64]
Records = npt.NDArray[np.object_]
Rows = Mask | npt.NDArray[np.intp]
Matrix = npt.NDArray[np.float64]

# The columns of `Candidates.features`, by name: what hydrators fill and scorers read
# (the table, with the group that fills each, is starling/ranking/features.py).
FEATURES = NAMES


@dataclass(frozen=True)
class Candidates:
    """Parallel columns, one row per candidate post.

    `source_id` is the post an entry shows (the original of a repost, else the post
    itself); `pipeline` is the index of the candidate pipeline that produced the row;
    `posts` holds the hydrated records (None until hydrated or when not found);
    `originals` the original of each repost row, read once by hydration for every filter
    (None for a post that is no repost, and until hydrated or when not found);
    `social_proof` the accounts an out-of-network source names as vouching for a row
    (a tuple, empty when none); `features` one float column per name in `FEATURES`;
    `campaign_id` the ad campaign that promotes a row (0 for an organic row).
    Columns a source cannot know yet (author, source post) hold what hydration later
    fills in.
    """

    post_id: Ids
    source_id: Ids
    author_id: Ids
    created_at: Ids
    pipeline: npt.NDArray[np.int16]
    score: Scores
    posts: Records
    originals: Records
    social_proof: Records
    features: Matrix
    campaign_id: Ids

    @classmethod
    def of(cls, post_ids: Sequence[int] | Ids) -> Candidates:
        """Bare post ids, newest first as the source found them: created times come
        from the ids themselves; the rest waits for hydration."""
        ids = np.asarray(post_ids, dtype=np.int64)
        return cls(
            post_id=ids,
            source_id=ids.copy(),
            author_id=np.zeros(len(ids), dtype=np.int64),
            created_at=ids >> SEQUENCE_BITS,
            pipeline=np.zeros(len(ids), dtype=np.int16),
            score=np.zeros(len(ids), dtype=np.float64),
            posts=np.full(len(ids), None, dtype=object),
            originals=np.full(len(ids), None, dtype=object),
            social_proof=_no_proof(len(ids)),
            features=np.zeros((len(ids), len(FEATURES)), dtype=np.float64),
            campaign_id=np.zeros(len(ids), dtype=np.int64),
        )

    @classmethod
    def empty(cls) -> Candidates:
        return cls.of(np.empty(0, dtype=np.int64))

    @classmethod
    def concat(cls, batches: Sequence[Candidates]) -> Candidates:
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        return cls(**{c: np.concatenate([getattr(b, c) for b in batches]) for c in COLUMNS})

    def __len__(self) -> int:
        return len(self.post_id)

    def take(self, rows: Rows) -> Candidates:
        """The rows a boolean mask keeps, or the rows an index array names, in its order."""
        return Candidates(**{c: getattr(self, c)[rows] for c in COLUMNS})

    def with_columns(self, **columns: Any) -> Candidates:
        """The same rows with some columns replaced (each as long as the batch)."""
        for name, column in columns.items():
            if len(column) != len(self):
                raise ValueError(f"column {name} has {len(column)} rows, the batch {len(self)}")
        return Candidates(**{**{c: getattr(self, c) for c in COLUMNS}, **columns})

    def feature(self, name: str) -> Scores:
        column: Scores = self.features[:, INDEX[name]]
        return column

    def with_feature(self, name: str, values: Scores) -> Candidates:
        """The same rows with one feature column filled."""
        return self.with_features((name,), np.asarray(values, dtype=np.float64)[:, None])

    def with_features(self, names: Sequence[str], values: Matrix) -> Candidates:
        """The same rows with these feature columns filled from a (rows x names) block."""
        features = self.features.copy()
        features[:, [INDEX[name] for name in names]] = values
        return self.with_columns(features=features)

    def with_social_proof(self, proofs: Sequence[tuple[int, ...]]) -> Candidates:
        column = _no_proof(len(proofs))
        for row, proof in enumerate(proofs):  # a slice assignment would unpack the tuples
            column[row] = proof
        return self.with_columns(social_proof=column)

    def unique_posts(self) -> Candidates:
        """The first row of each post id, in the batch's order (merging sources)."""
        _, first = np.unique(self.post_id, return_index=True)
        if len(first) == len(self):
            return self
        return self.take(np.sort(first))

    def records(self) -> list[Post]:
        """The hydrated posts, in row order."""
        return [post for post in self.posts.tolist() if post is not None]


COLUMNS = tuple(f.name for f in fields(Candidates))


def _no_proof(rows: int) -> Records:
    column = np.empty(rows, dtype=object)
    column.fill(())
    return column


def among(values: Ids, sorted_ids: Ids) -> Mask:
    """Which values are in `sorted_ids` (ascending): a binary search per value, cheaper
    than `np.isin` for a small batch against a large set such as a follow set."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=np.bool_)
    at = np.searchsorted(sorted_ids, values)
    found: Mask = sorted_ids[np.minimum(at, len(sorted_ids) - 1)] == values
    return found
